#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("", params.partitions);  // expect-error: a dataset's name must not be empty
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
}
