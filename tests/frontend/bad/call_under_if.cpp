#include <canary/dsl.h>
struct Params { int partitions = 4; bool twice = false; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  if (params.twice) {
    canary::transform("again", canary::writes(a), [](canary::Task&, double& x) { x *= 2; });  // expect-error: canary::transform under an ordinary C++ 'if'
  }
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
