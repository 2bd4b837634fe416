// A histogram whose scatter sends one single-entry map per value and names a
// combine function, so each task sends one merged map per destination.
#include <canary/dsl.h>

#include <map>
#include <vector>

struct Params {
  int partitions = 4;
  int buckets = 4;
  long values = 20000;
};

using Histogram = std::map<long, long>;

CANARY_JOB(combine, Params params) {
  auto values = canary::dataset<std::vector<long>>("values", params.partitions);
  auto buckets = canary::dataset<Histogram>("buckets", params.buckets);
  canary::transform("make", canary::writes(values), [params](canary::Task& t, std::vector<long>& v) {
    auto [begin, end] = canary::range_of(t.index(), params.values, t.partitions());
    for (long i = begin; i < end; ++i) v.push_back(i * 7919 % 101);
  });
  canary::scatter(
      "count", canary::reads(values), canary::to(buckets),
      [params](canary::Task&, const std::vector<long>& v, canary::Emit<Histogram>& out) {
        for (long x : v) out.send(canary::hash_partition(x, params.buckets), Histogram{{x, 1}});
      },
      canary::combine([](Histogram& acc, const Histogram& x) {
        for (const auto& [k, n] : x) acc[k] += n;
      }));
  canary::gather("sum", buckets, [](canary::Task& t, canary::Chunks<Histogram>& in, Histogram& h) {
    for (const Histogram& c : in)
      for (const auto& [k, n] : c) h[k] += n;
    t.output("chunks", static_cast<long>(in.size()));
    t.output("histogram", h);
  });
}
