#include <canary/dsl.h>
struct Params { int partitions = 4; };
template <class D>
void double_it(D& a) {
  canary::transform("double", canary::writes(a), [](canary::Task&, double& x) { x *= 2; });  // expect-error: canary::transform outside the job body (in 'double_it')
}
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  double_it(a);
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
