// A straggler more partitions can fix: the first quarter of the values (by
// --heavy) takes 1.8 times the work of the rest, so with two partitions
// per thread one partition holds the others up, and with four it no longer
// does. Every round's sums are joined, as a gradient step's are, and the
// next round starts from them; the answer does not depend on the partition
// count.
#include <canary/dsl.h>

#include <cstdint>
#include <vector>

struct Params {
  long values = 100000;
  int rounds = 100;
  int work = 40;  // steps per value per round
  int heavy = 1;  // 1: the first quarter of the values takes 1.8 times the work
};

// What one value contributes to a round.
inline std::uint64_t worked(long x, int steps) {
  std::uint64_t h = static_cast<std::uint64_t>(x);
  for (int k = 0; k < steps; ++k) h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL + 1;
  return h % 1000;
}

CANARY_JOB(straggler, Params params) {
  auto values = canary::dataset<std::vector<long>>("values", canary::automatic);
  auto seen = canary::dataset<std::uint64_t>("seen", canary::automatic);
  auto sums = canary::dataset<std::uint64_t>("sums", canary::automatic);
  auto round = canary::dataset<std::uint64_t>("round", 1);
  auto total = canary::dataset<std::uint64_t>("total", 1);
  canary::transform("make", canary::writes(values), [params](canary::Task& t, std::vector<long>& v) {
    auto [begin, end] = canary::range_of(t.index(), params.values, t.partitions());
    for (long i = begin; i < end; ++i) v.push_back(i);
  });
  canary::transform("zero", canary::writes(total), [](canary::Task&, std::uint64_t& s) { s = 0; });
  canary::loop(params.rounds, [&] {
    // Each round starts from the total so far, as a gradient step from the
    // weights: no partition runs ahead of the slowest.
    canary::broadcast("share", total, seen);
    canary::transform(
        "work", canary::reads(values, seen), canary::writes(sums),
        [params](canary::Task& t, const std::vector<long>& v, const std::uint64_t& so_far, std::uint64_t& s) {
          s = t.index() == 0 ? so_far % 2 : 0;
          for (long x : v) {
            s += worked(x, params.work);
            if (params.heavy && x < params.values / 4) s += worked(-x, params.work * 4 / 5);
          }
        });
    canary::reduce("join", sums, round, [](std::uint64_t& acc, const std::uint64_t& s) { acc += s; });
    canary::transform("add", canary::reads(round), canary::writes(total),
                      [](canary::Task&, const std::uint64_t& r, std::uint64_t& s) { s += r; });
  });
  canary::transform("report", canary::reads(total),
                    [](canary::Task& t, const std::uint64_t& s) { t.output("total", s); });
  canary::transform("count", canary::reads(values), [](canary::Task& t, const std::vector<long>&) {
    t.output("partitions_seen", t.partitions());
  });
}
