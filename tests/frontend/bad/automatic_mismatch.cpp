#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", canary::automatic);
  auto b = canary::dataset<double>("b", params.partitions);
  canary::transform("init", canary::writes(a, b), [](canary::Task&, double& x, double& y) { x = y = 1; });  // expect-error: partition counts differ in stage 'init': 'a' has canary::automatic, 'b' has partitions
}
