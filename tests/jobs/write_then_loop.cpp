// A write stage before a long loop: with --snapshot-dir, every snapshot's
// cut lies after the write, so a job resumed from one never writes again and
// must commit the part files the killed run left under _temporary/.
#include <canary/dsl.h>

#include <string>
#include <string_view>
#include <vector>

struct Params {
  std::string input = "input";
  std::string output = "output";
  int partitions = 3;
  int iterations = 300;
  int rounds = 1000000;  // work per task and iteration
};

CANARY_JOB(write_then_loop, Params params) {
  auto lines = canary::dataset<std::vector<std::string>>("lines", params.partitions);
  auto total = canary::dataset<long>("total", params.partitions);
  canary::read("load", canary::files(params.input), canary::writes(lines),
               [](canary::Task&, canary::Split& in, std::vector<std::string>& out) {
                 for (std::string_view line : in.lines()) out.emplace_back(line);
               });
  canary::write("save", canary::reads(lines), canary::files(params.output),
                [](canary::Task&, const std::vector<std::string>& l, canary::Sink& out) {
                  for (const std::string& line : l) out.line(line);
                });
  canary::transform("zero", canary::writes(total), [](canary::Task&, long& sum) { sum = 0; });
  canary::loop(params.iterations, [&] {
    canary::transform("add", canary::reads(lines), canary::writes(total),
                      [params](canary::Task& t, const std::vector<std::string>& l, long& sum) {
                        long bytes = 0;
                        for (int r = 0; r < params.rounds; ++r)
                          bytes += l.empty() ? 0 : l[r % l.size()].size();
                        sum += bytes + t.iteration();
                      });
  });
  canary::transform("report", canary::reads(total),
                    [](canary::Task& t, const long& sum) { t.output("total", sum); });
}
