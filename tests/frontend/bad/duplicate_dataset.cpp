#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  auto b = canary::dataset<double>("a", params.partitions);  // expect-error: duplicate dataset name 'a'
  canary::transform("init", canary::writes(a, b), [](canary::Task&, double& x, double& y) { x = y = 1; });
  canary::transform("use", canary::reads(a, b), [](canary::Task&, const double&, const double&) {});
}
