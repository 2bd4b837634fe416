#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  auto b = canary::dataset<double>("b", 2);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::scatter("send", canary::reads(a), canary::to(b),  // expect-error: scatter 'send' sends to 'b' but no gather of it follows
                  [](canary::Task&, const double& x, canary::Emit<double>& out) { out.send(0, x); });
}
