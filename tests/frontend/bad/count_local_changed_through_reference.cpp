// A local count changed through a reference, inside a loop body that takes
// it by reference: still a change canaryc would not see.
#include <canary/dsl.h>
struct Params { int partitions = 4; };
inline void twice(int& v) { v *= 2; }
CANARY_JOB(bad, Params params) {
  int n = params.partitions;
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::loop(3, [&] {
    twice(n);  // expect-error: 'n' is changed here after its declaration
    canary::transform("step", canary::writes(a), [](canary::Task&, double& x) { x += 1; });
  });
  canary::loop(n, [&] {
    canary::transform("more", canary::writes(a), [](canary::Task&, double& x) { x += 1; });
  });
}
