#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, int& x) { x = 1; });  // expect-error: transform 'init': its function cannot be called as
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
