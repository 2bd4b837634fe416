// PageRank for benchmarking: examples/pagerank.cpp with the combiner every
// serious implementation has. A scatter task sums its contributions per
// destination vertex before sending, so each destination partition gets one
// dense vector of sums from each sender (8 bytes per vertex) instead of one
// (vertex, amount) pair per edge (16 bytes per edge). The graph is held as
// flat arrays, made by bench/data.h as for bench/pagerank_baseline.cpp.
#include <canary/dsl.h>

#include <vector>

#include "data.h"

struct Params {
  int partitions = 2;
  int iterations = 10;
  long vertices = 1000000;
  int degree = 8;
  double damping = 0.85;
};

// A partition's vertices [first, first + rank.size()); vertex first + i's
// out-edges are target[i * degree, (i + 1) * degree).
struct Vertices {
  long first = 0;
  std::vector<double> rank;
  std::vector<long> target;
};

template <>
struct canary::Serializer<Vertices> {
  static void write(canary::Writer& w, const Vertices& v) {
    canary::write(w, v.first);
    canary::write(w, v.rank);
    canary::write(w, v.target);
  }
  static void read(canary::Reader& r, Vertices& v) {
    canary::read(r, v.first);
    canary::read(r, v.rank);
    canary::read(r, v.target);
  }
};

using bench::first_of;

CANARY_JOB(pagerank_bench, Params params) {
  auto graph = canary::dataset<Vertices>("graph", params.partitions);
  auto incoming = canary::dataset<std::vector<double>>("incoming", params.partitions);

  canary::transform("generate", canary::writes(graph), [params](canary::Task& t, Vertices& v) {
    v.first = first_of(params.vertices, t.index(), t.partitions());
    long end = first_of(params.vertices, t.index() + 1, t.partitions());
    v.rank.assign(end - v.first, 1.0 / params.vertices);
    v.target = bench::pagerank_partition(t.seed(), end - v.first, params.vertices, params.degree);
  });
  canary::loop(params.iterations, [&] {
    canary::scatter(
        "contribute", canary::reads(graph), canary::to(incoming),
        [params](canary::Task& t, const Vertices& v, canary::Emit<std::vector<double>>& out) {
          std::vector<double> sum(params.vertices, 0.0);  // by destination vertex
          for (std::size_t i = 0; i < v.rank.size(); ++i) {
            double share = v.rank[i] / params.degree;
            for (int e = 0; e < params.degree; ++e) sum[v.target[i * params.degree + e]] += share;
          }
          for (int p = 0; p < t.partitions(); ++p)
            out.send(p, std::vector<double>(sum.begin() + first_of(params.vertices, p, t.partitions()),
                                            sum.begin() + first_of(params.vertices, p + 1, t.partitions())));
        });
    canary::gather("collect", incoming,
                   [](canary::Task&, canary::Chunks<std::vector<double>>& in, std::vector<double>& mine) {
                     mine.clear();
                     for (const std::vector<double>& part : in) {
                       if (mine.empty()) mine.assign(part.size(), 0.0);
                       for (std::size_t i = 0; i < part.size() && i < mine.size(); ++i) mine[i] += part[i];
                     }
                   });
    canary::transform("update", canary::reads(incoming), canary::writes(graph),
                      [params](canary::Task&, const std::vector<double>& sum, Vertices& v) {
                        for (std::size_t i = 0; i < v.rank.size(); ++i)
                          v.rank[i] = (1 - params.damping) / params.vertices + params.damping * sum[i];
                      });
  });
  canary::transform("report", canary::reads(graph),
                    [](canary::Task& t, const Vertices& v) { t.output("ranks", v.rank); });
}
