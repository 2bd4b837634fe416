#include <canary/dsl.h>
struct Params { int partitions = 4; std::string input = "in"; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  canary::read("load", canary::files(params.input), canary::writes(a),
               [](canary::Task&, const std::string& text, long& n) { n = text.size(); });  // expect-error: read 'load': its function cannot be called as (canary::Task&, canary::Split&, long&)
}
