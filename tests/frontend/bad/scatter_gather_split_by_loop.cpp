#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  auto b = canary::dataset<double>("b", 2);
  canary::transform("init", canary::writes(a), [](canary::Task&, double& x) { x = 1; });
  canary::loop(3, [&] {
    canary::scatter("send", canary::reads(a), canary::to(b),  // expect-error: no gather of it follows in the same block
                    [](canary::Task&, const double& x, canary::Emit<double>& out) { out.send(0, x); });
  });
  canary::gather("merge", b, [](canary::Task&, canary::Chunks<double>& in, double& x) { x = in.size(); });  // expect-error: gather 'merge' has no scatter to 'b' before it
  canary::transform("use", canary::reads(b), [](canary::Task&, const double&) {});
}
