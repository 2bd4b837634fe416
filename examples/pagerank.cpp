// PageRank on a synthetic graph, every vertex with `degree` out-edges to
// random vertices. Vertices are split over partitions in blocks (range_of).
// Each partition keeps its out-edges grouped by the partition that owns the
// target, as GraphX's edge partitions do: each iteration it sums, for one
// destination partition after the other, what its vertices give to each
// vertex of that block, and moves that dense vector of sums to it (it leaves
// without a copy); each partition adds up what arrives into its new ranks.
// Summing before sending is the combiner every serious PageRank has: 8 bytes
// per target vertex cross the network instead of a (vertex, amount) pair per
// edge; grouping by destination keeps the random adds inside one block's
// sums, not the whole graph's.
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

// A partition's vertices [first, first + rank.size()). Their out-edges are
// kept grouped by the partition that owns the target: to[q] lists, vertex by
// vertex, the targets in partition q's block (as offsets into that block),
// and vertex i's run is to[q].offset[to[q].start[i] .. to[q].start[i + 1]).
struct EdgesTo {
  std::vector<long> start;
  std::vector<long> offset;
};
struct Vertices {
  long first = 0;
  std::vector<double> rank;
  std::vector<EdgesTo> to;
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
    std::vector<long> block_first(t.partitions());
    for (int q = 0; q < t.partitions(); ++q)
      block_first[q] = canary::range_of(q, params.vertices, t.partitions()).first;
    v.to.assign(t.partitions(), {});
    for (EdgesTo& edges : v.to) edges.start.push_back(0);
    for (long i = first; i < end; ++i) {
      for (int e = 0; e < params.degree; ++e) {
        long target = pick(rng);
        int owner = canary::owner_of(target, params.vertices, t.partitions());
        v.to[owner].offset.push_back(target - block_first[owner]);
      }
      for (EdgesTo& edges : v.to) edges.start.push_back(static_cast<long>(edges.offset.size()));
    }
  });
  canary::loop(params.iterations, [&] {
    canary::scatter("contribute", canary::reads(graph), canary::to(incoming),
                    [params](canary::Task& t, const Vertices& v, canary::Emit<Sums>& out) {
                      for (int q = 0; q < t.partitions(); ++q) {
                        auto [first, end] = canary::range_of(q, params.vertices, t.partitions());
                        Sums sum(end - first, 0.0);
                        const EdgesTo& edges = v.to[q];
                        for (std::size_t i = 0; i < v.rank.size(); ++i) {
                          double share = v.rank[i] / params.degree;
                          for (long k = edges.start[i]; k < edges.start[i + 1]; ++k)
                            sum[edges.offset[k]] += share;
                        }
                        out.send(q, std::move(sum));
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
