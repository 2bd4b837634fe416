// Valid, but one dataset is written and never read: a warning, not an error.
#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(warn, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  auto scratch = canary::dataset<double>("scratch", params.partitions);
  canary::transform("init", canary::writes(a, scratch), [](canary::Task&, double& x, double& s) { x = s = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task& t, const double& x) { t.output("a", x); });
}
