#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [a](canary::Task&, double& x) { x = a.partitions(); });  // expect-error: captures 'a'
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
