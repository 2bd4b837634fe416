#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::transform("report", canary::reads(a), [](canary::Task& t, const double& x) {
    t.output("where", &x);  // expect-error: t.output takes a value Canary cannot show: 'const double *' cannot cross workers: a pointer means nothing on another worker
  });
}
