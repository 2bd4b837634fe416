#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::gather("merge", a, [](canary::Task&, canary::Chunks<double>& in, double& x) {  // expect-error: gather 'merge' has no scatter to 'a'
    for (double v : in) x += v;
  });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
