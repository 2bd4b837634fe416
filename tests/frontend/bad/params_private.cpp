// A private parameter: the job binary sets every field from its flag.
#include <canary/dsl.h>
class Params {
  int hidden = 2;  // expect-error: parameter 'hidden' is not public

 public:
  int partitions = 4;
};
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
}
