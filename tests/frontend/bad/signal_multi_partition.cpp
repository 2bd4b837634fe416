#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto s = canary::dataset<double>("s", params.partitions);
  canary::transform("init", canary::writes(s), [](canary::Task&, double& x) { x = 0; });
  canary::loop_while("more", canary::reads(s), [](const double& x) { return x < 3; }, [&] {  // expect-error: signal 'more': the signal's dataset 's' must have 1 partition
    canary::transform("grow", canary::writes(s), [](canary::Task&, double& x) { x += 1; });
  });
}
