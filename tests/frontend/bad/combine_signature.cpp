#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  auto b = canary::dataset<long>("b", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task& t, long& n) { n = t.index(); });
  canary::scatter("send", canary::reads(a), canary::to(b),
                  [](canary::Task& t, const long& n, canary::Emit<long>& out) { out.send(t.index(), n); },
                  canary::combine([](long acc, long x) { return acc + x; }));  // expect-error: scatter 'send': its combine function cannot be called as (long&, const long&)
  canary::gather("take", b, [](canary::Task& t, canary::Chunks<long>& in, long& n) {
    for (long x : in) n += x;
    t.output("n", n);
  });
}
