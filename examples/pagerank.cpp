// PageRank on a synthetic graph, every vertex with `degree` out-edges to
// random vertices. Vertices are split over partitions in blocks (range_of);
// each iteration a partition sums what its vertices give along their edges
// per target vertex, sends each partition the sums for its block (one dense
// vector of doubles, moved, so it leaves without a copy), and each partition
// adds up what arrives into its new ranks. Summing before sending is the
// combiner every serious PageRank has: 8 bytes per target vertex cross the
// network instead of a (vertex, amount) pair per edge.
#include <canary/dsl.h>

#include <random>
#include <vector>

struct Params {
  int partitions = 8;
  int iterations = 10;
  long vertices = 20000;
  int degree = 8;
  double damping = 0.85;
};

// A partition's vertices [first, first + rank.size()); vertex first + i's
// out-edges go to target[i * degree, (i + 1) * degree).
struct Vertices {
  long first = 0;
  std::vector<double> rank;
  std::vector<long> target;
};
// What one partition gives the vertices of another's block, by vertex.
using Sums = std::vector<double>;

CANARY_JOB(pagerank, Params params) {
  auto graph = canary::dataset<Vertices>("graph", params.partitions);
  auto incoming = canary::dataset<Sums>("incoming", params.partitions);

  canary::transform("generate", canary::writes(graph), [params](canary::Task& t, Vertices& v) {
    auto [first, end] = canary::range_of(t.index(), params.vertices, t.partitions());
    v.first = first;
    v.rank.assign(end - first, 1.0 / params.vertices);
    std::mt19937_64 rng(t.seed());
    std::uniform_int_distribution<long> pick(0, params.vertices - 1);
    v.target.resize((end - first) * params.degree);
    for (long& target : v.target) target = pick(rng);
  });
  canary::loop(params.iterations, [&] {
    canary::scatter("contribute", canary::reads(graph), canary::to(incoming),
                    [params](canary::Task& t, const Vertices& v, canary::Emit<Sums>& out) {
                      Sums sum(params.vertices, 0.0);
                      for (std::size_t i = 0; i < v.rank.size(); ++i) {
                        double share = v.rank[i] / params.degree;
                        for (int e = 0; e < params.degree; ++e) sum[v.target[i * params.degree + e]] += share;
                      }
                      for (int p = 0; p < t.partitions(); ++p) {
                        auto [first, end] = canary::range_of(p, params.vertices, t.partitions());
                        out.send(p, Sums(sum.begin() + first, sum.begin() + end));
                      }
                    });
    canary::gather("collect", incoming, [](canary::Task&, canary::Chunks<Sums>& in, Sums& mine) {
      mine.clear();
      for (const Sums& part : in) {
        mine.resize(part.size(), 0.0);
        for (std::size_t i = 0; i < part.size(); ++i) mine[i] += part[i];
      }
    });
    canary::transform("update", canary::reads(incoming), canary::writes(graph),
                      [params](canary::Task&, const Sums& sum, Vertices& v) {
                        for (std::size_t i = 0; i < v.rank.size(); ++i)
                          v.rank[i] = (1 - params.damping) / params.vertices + params.damping * sum[i];
                      });
  });
  canary::transform("report", canary::reads(graph),
                    [](canary::Task& t, const Vertices& v) { t.output("ranks", v.rank); });
}
