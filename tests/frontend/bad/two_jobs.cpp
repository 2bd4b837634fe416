#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(first, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
CANARY_JOB(second, Params params) {}  // expect-error: a driver declares exactly one CANARY_JOB
