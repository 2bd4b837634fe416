#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task& t, long& n) { n = t.index(); });
  canary::write("save", canary::writes(a), canary::files("out"),  // expect-error: no matching function for call to 'write'
                [](canary::Task&, long& n, canary::Sink& out) { out.write(&n, sizeof n); });
}
