#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  auto sum = canary::dataset<double>("sum", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::reduce("total", a, sum, [](double& acc, const double& x) { acc += x; });  // expect-error: reduce 'total': the reduction's result 'sum' must have 1 partition
  canary::transform("use", canary::reads(sum), [](canary::Task&, const double&) {});
}
