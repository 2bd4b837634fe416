#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  double scale = 2;
  canary::transform("init", canary::writes(a), [scale](canary::Task&, double& x) { x = scale; });  // expect-error: the task function of 'init' captures 'scale': it runs on every worker
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
