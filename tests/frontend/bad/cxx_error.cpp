#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) {
    x = undefined_name;  // expect-error: use of undeclared identifier 'undefined_name'
  });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
