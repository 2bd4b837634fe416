#include <canary/dsl.h>
struct Params { int partitions = 4; std::string input = "in"; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  canary::read("load", canary::files(std::to_string(params.partitions)), canary::writes(a),  // expect-error: the path of 'load' must be a std::string job parameter or a string literal
               [](canary::Task&, canary::Split& in, long& n) { for (auto line : in.lines()) n += line.size(); });
}
