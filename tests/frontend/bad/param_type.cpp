#include <canary/dsl.h>
struct Params {
  int partitions = 4;
  float rate = 0.5f;  // expect-error: parameter 'rate' has type 'float'; job parameters are int, long, double, bool or std::string
};
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
