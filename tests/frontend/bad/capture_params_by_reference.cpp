#include <canary/dsl.h>
struct Params { int partitions = 4; double scale = 2; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [&](canary::Task&, double& x) {
    x = params.scale;  // expect-error: captures 'params' by reference
  });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
