#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", canary::automatic);
  auto b = canary::dataset<double>("b", a.partitions() * 2);  // expect-error: a partition count must be a constant or an integer expression of the job parameters
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::transform("more", canary::writes(b), [](canary::Task&, double& x) { x = 1; });
}
