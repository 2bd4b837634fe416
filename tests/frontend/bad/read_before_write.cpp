#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  auto b = canary::dataset<double>("b", params.partitions);
  canary::transform("copy", canary::reads(a), canary::writes(b), [](canary::Task&, const double& x, double& y) { y = x; });  // expect-error: transform 'copy' reads dataset 'a' before any stage writes it
  canary::transform("use", canary::reads(b), [](canary::Task&, const double&) {});
}
