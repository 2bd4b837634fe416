#include <canary/dsl.h>
#include <cstdlib>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", std::rand() % 4 + 1);  // expect-error: a partition count must be a constant or an integer expression of the job parameters
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
