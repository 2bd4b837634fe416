// A local count changed after its declaration: canaryc takes the count from
// the declaration, so C++ and the job would disagree (4 against 3).
#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  int n = params.partitions;
  n = 1;  // expect-error: 'n' is changed here after its declaration
  auto a = canary::dataset<double>("a", n);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
}
