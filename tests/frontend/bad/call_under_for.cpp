#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::loop(2, [&] {
    for (int i = 0; i < 3; ++i)
      canary::transform("step", canary::writes(a), [](canary::Task&, double& x) { x += 1; });  // expect-error: under an ordinary C++ 'for'
  });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
