// The job body changing its parameters: the task functions and counts are
// built from the parameters the command line sets, so this would be lost.
#include <canary/dsl.h>
struct Params { int partitions = 4; double scale = 1; };
CANARY_JOB(bad, Params params) {
  params.scale = 2;  // expect-error: the job body changes its parameters here
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [params](canary::Task&, double& x) { x = params.scale; });
}
