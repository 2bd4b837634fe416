#include <canary/dsl.h>
struct Params { int partitions = 4; std::string output = "out"; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task& t, long& n) { n = t.index(); });
  canary::write("save", canary::reads(a), canary::files(params.output, canary::records(8)),  // expect-error: canary::records(n) is for reading
                [](canary::Task&, const long& n, canary::Sink& out) { out.write(&n, sizeof n); });
}
