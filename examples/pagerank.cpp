// PageRank on a synthetic graph. Vertices are split over partitions; each
// iteration every partition scatters rank contributions along its out-edges
// to the partitions owning the targets, which gather them into new ranks.
#include <canary/dsl.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

struct Params {
  int partitions = 8;
  int iterations = 10;
  long vertices = 20000;
  int degree = 8;
  double damping = 0.85;
};

// A partition's vertices [first, first + rank.size()) and their out-edges.
struct Vertices {
  long first = 0;
  std::vector<double> rank;
  std::vector<std::vector<long>> out;
};
// Contributions addressed to vertices of one partition: (vertex, amount).
using Contributions = std::vector<std::pair<long, double>>;

CANARY_JOB(pagerank, Params params) {
  auto graph = canary::dataset<Vertices>("graph", params.partitions);
  auto incoming = canary::dataset<Contributions>("incoming", params.partitions);

  canary::transform("generate", canary::writes(graph), [params](canary::Task& t, Vertices& v) {
    auto [first, end] = canary::range_of(t.index(), params.vertices, t.partitions());
    v.first = first;
    std::mt19937_64 rng(t.seed());
    std::uniform_int_distribution<long> target(0, params.vertices - 1);
    v.rank.assign(end - v.first, 1.0 / params.vertices);
    v.out.assign(end - v.first, {});
    for (auto& edges : v.out)
      for (int e = 0; e < params.degree; ++e) edges.push_back(target(rng));
  });
  canary::loop(params.iterations, [&] {
    canary::scatter("contribute", canary::reads(graph), canary::to(incoming),
                    [params](canary::Task& t, const Vertices& v, canary::Emit<Contributions>& out) {
                      std::vector<Contributions> per(t.partitions());
                      for (std::size_t i = 0; i < v.rank.size(); ++i) {
                        double share = v.rank[i] / v.out[i].size();
                        for (long target : v.out[i])
                          per[canary::owner_of(target, params.vertices, t.partitions())].emplace_back(target,
                                                                                                      share);
                      }
                      for (int p = 0; p < t.partitions(); ++p)
                        if (!per[p].empty()) out.send(p, per[p]);
                    });
    canary::gather("collect", incoming,
                   [](canary::Task&, canary::Chunks<Contributions>& in, Contributions& mine) {
                     mine.clear();
                     for (const Contributions& c : in) mine.insert(mine.end(), c.begin(), c.end());
                   });
    canary::transform("update", canary::reads(incoming), canary::writes(graph),
                      [params](canary::Task&, const Contributions& in, Vertices& v) {
                        std::vector<double> sum(v.rank.size(), 0.0);
                        for (const auto& [vertex, amount] : in) sum[vertex - v.first] += amount;
                        for (std::size_t i = 0; i < v.rank.size(); ++i)
                          v.rank[i] = (1 - params.damping) / params.vertices + params.damping * sum[i];
                      });
  });
  canary::transform("report", canary::reads(graph),
                    [](canary::Task& t, const Vertices& v) { t.output("ranks", v.rank); });
}
