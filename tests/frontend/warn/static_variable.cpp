// Valid, but a task changes a global: each worker process has its own copy,
// so the answer would depend on placement. A warning, not an error.
#include <canary/dsl.h>
struct Params { int partitions = 4; };
static double scale = 3.0;
const double kStep = 1.0;  // const: the same on every worker, no warning
CANARY_JOB(warn, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = kStep; });
  canary::transform("scale", canary::writes(a), [](canary::Task&, double& x) {
    x *= scale;
    scale += kStep;
  });
  canary::transform("use", canary::reads(a), [](canary::Task& t, const double& x) { t.output("a", x); });
}
