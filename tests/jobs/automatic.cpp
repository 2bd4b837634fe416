// Datasets whose partition count the runtime chooses (canary::automatic):
// values spread over the automatic partitions are counted into buckets of a
// second automatic dataset, so a scatter and a gather use the one shared
// count; a reduce joins them into a dataset of one partition.
#include <canary/dsl.h>

#include <vector>

struct Params {
  long values = 100000;
  int rounds = 3;
};

CANARY_JOB(automatic, Params params) {
  auto values = canary::dataset<std::vector<long>>("values", canary::automatic);
  auto buckets = canary::dataset<std::vector<long>>("buckets", canary::automatic);
  auto total = canary::dataset<std::vector<long>>("total", 1);
  canary::transform("make", canary::writes(values), [params](canary::Task& t, std::vector<long>& v) {
    auto [begin, end] = canary::range_of(t.index(), params.values, t.partitions());
    for (long i = begin; i < end; ++i) v.push_back(i * 7919 % 1009);
  });
  canary::loop(params.rounds, [&] {
    canary::scatter("spread", canary::reads(values), canary::to(buckets),
                    [](canary::Task& t, const std::vector<long>& v, canary::Emit<std::vector<long>>& out) {
                      std::vector<std::vector<long>> to(t.partitions());
                      for (long x : v) to[x % t.partitions()].push_back(x);
                      for (int p = 0; p < t.partitions(); ++p) out.send(p, std::move(to[p]));
                    });
    canary::gather("collect", buckets,
                   [](canary::Task&, canary::Chunks<std::vector<long>>& in, std::vector<long>& b) {
                     b.clear();
                     for (const std::vector<long>& c : in) b.insert(b.end(), c.begin(), c.end());
                   });
  });
  canary::transform("count", canary::reads(buckets), [](canary::Task& t, const std::vector<long>& b) {
    long sum = 0;
    for (long x : b) sum += x;
    t.output("bucket_sum", sum);
    t.output("partitions_seen", t.partitions());
  });
  canary::reduce("join", buckets, total, [](std::vector<long>& acc, const std::vector<long>& b) {
    acc.insert(acc.end(), b.begin(), b.end());
  });
  canary::transform("report", canary::reads(total), [](canary::Task& t, const std::vector<long>& all) {
    long sum = 0;
    for (long x : all) sum += x;
    t.output("values_seen", static_cast<long>(all.size()));
    t.output("total", sum);
  });
}
