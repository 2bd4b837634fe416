#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) {
    x = 1;
    canary::loop(2, [] {});  // expect-error: canary::loop inside a task function
  });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
