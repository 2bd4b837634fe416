// Records t.seed() and t.iteration() of every task, to check both against
// their definition.
#include <canary/dsl.h>

#include <cstdint>
#include <vector>

struct Params {
  int partitions = 3;
  int rounds = 2;
};

CANARY_JOB(seeds, Params params) {
  auto seen = canary::dataset<std::vector<std::uint64_t>>("seen", params.partitions);
  canary::transform("first", canary::writes(seen),
                    [](canary::Task& t, std::vector<std::uint64_t>& v) { v.push_back(t.seed()); });
  canary::loop(params.rounds, [&] {
    canary::loop(2, [&] {
      canary::transform("inner", canary::writes(seen), [](canary::Task& t, std::vector<std::uint64_t>& v) {
        v.push_back(t.seed());
        v.push_back(t.iteration());
      });
    });
  });
  canary::transform("report", canary::reads(seen),
                    [](canary::Task& t, const std::vector<std::uint64_t>& v) { t.output("seen", v); });
}
