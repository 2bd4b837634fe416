// A count that divides by zero whatever the parameters.
#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions % 0);  // expect-error: a count divides by zero
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
}
