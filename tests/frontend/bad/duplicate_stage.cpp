#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 2; });  // expect-error: duplicate stage name 'init'
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
