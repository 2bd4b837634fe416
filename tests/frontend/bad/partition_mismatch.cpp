#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  auto b = canary::dataset<double>("b", 3);
  canary::transform("init", canary::writes(a, b), [](canary::Task&, double& x, double& y) { x = y = 1; });  // expect-error: partition counts differ in stage 'init': 'a' has partitions, 'b' has 3
  canary::transform("use", canary::reads(a, b), [](canary::Task&, const double&, const double&) {});  // expect-error: partition counts differ in stage 'use'
}
