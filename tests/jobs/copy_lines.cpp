// Reads text files into partitions of lines and writes them back out, inside
// a loop: the part files, concatenated in order, are the input's lines. A
// line equal to --bad fails its task through Split::fail.
#include <canary/dsl.h>

#include <string>
#include <string_view>
#include <vector>

struct Params {
  std::string input = "input";
  std::string output = "output";
  std::string bad;
  int partitions = 3;
  int iterations = 1;
};

CANARY_JOB(copy_lines, Params params) {
  auto lines = canary::dataset<std::vector<std::string>>("lines", params.partitions);
  canary::read("load", canary::files(params.input), canary::writes(lines),
               [params](canary::Task&, canary::Split& in, std::vector<std::string>& out) {
                 out.clear();
                 for (std::string_view line : in.lines()) {
                   if (!params.bad.empty() && line == params.bad) in.fail("a bad line");
                   out.emplace_back(line);
                 }
               });
  canary::loop(params.iterations, [&] {
    // A task per partition and iteration that changes nothing: work for migrations to interrupt.
    canary::transform("keep", canary::writes(lines), [](canary::Task&, std::vector<std::string>&) {});
    canary::write("save", canary::reads(lines), canary::files(params.output),
                  [](canary::Task&, const std::vector<std::string>& l, canary::Sink& out) {
                    for (const std::string& line : l) out.line(line);
                  });
  });
}
