#include <canary/dsl.h>
struct Params { int partitions = 4; };
void helper(canary::Dataset<double> a) {
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });  // expect-error: canary::transform outside the job body (in 'helper')
}
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  helper(a);
}
