#include <canary/dsl.h>
#include <vector>
struct Params { int partitions = 3; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  auto b = canary::dataset<std::vector<long>>("b", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task& t, long& x) { x = t.index(); });
  canary::scatter("send", canary::reads(a), canary::to(b),
                  [](canary::Task&, const long& x, canary::Emit<long>& out) { out.send(0, x); });  // expect-error: scatter 'send': its function cannot be called as (canary::Task&, const long&, canary::Emit<std::vector<long>>&)
  canary::gather("receive", b, [](canary::Task&, canary::Chunks<std::vector<long>>& in, std::vector<long>& v) {
    for (const std::vector<long>& c : in) v.insert(v.end(), c.begin(), c.end());
  });
  canary::transform("use", canary::reads(b), [](canary::Task&, const std::vector<long>&) {});
}
