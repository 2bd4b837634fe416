// PageRank over an edge list read from files (`src dst` per line, `#`
// comments and empty lines skipped), with the ranks written as
// `vertex<TAB>rank` part files. The edges are read in splits, sent to the
// partition owning their source (range_of's blocks of vertex ids), and then
// each iteration runs as in examples/pagerank.cpp. A vertex without
// out-edges keeps its rank to itself (it gives nothing away).
//
//   tools/example pagerank_files --edges=FILE --vertices=N --output=DIR
#include <canary/dsl.h>

#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct Params {
  std::string edges = "build/pagerank_files/edges.txt";
  std::string output = "build/pagerank_files/ranks";
  long vertices = 1000;  // ids are 0 .. vertices-1
  int partitions = 4;
  int iterations = 10;
  double damping = 0.85;
};

using Edges = std::vector<std::pair<long, long>>;
// A partition's vertices [first, first + rank.size()) and their out-edges.
struct Vertices {
  long first = 0;
  std::vector<double> rank;
  std::vector<std::vector<long>> out;
};
using Contributions = std::vector<std::pair<long, double>>;

CANARY_JOB(pagerank_files, Params params) {
  auto read_edges = canary::dataset<Edges>("read_edges", params.partitions);
  auto owned_edges = canary::dataset<Edges>("owned_edges", params.partitions);
  auto graph = canary::dataset<Vertices>("graph", params.partitions);
  auto incoming = canary::dataset<Contributions>("incoming", params.partitions);

  canary::read("load", canary::files(params.edges), canary::writes(read_edges),
               [params](canary::Task&, canary::Split& in, Edges& edges) {
                 for (std::string_view line : in.lines()) {
                   std::size_t start = line.find_first_not_of(" \t");
                   if (start == std::string_view::npos || line[start] == '#') continue;
                   long ids[2];
                   const char* at = line.data() + start;
                   const char* end = line.data() + line.size();
                   for (long& id : ids) {
                     while (at < end && (*at == ' ' || *at == '\t')) ++at;
                     auto [next, error] = std::from_chars(at, end, id);
                     if (error != std::errc() || id < 0 || id >= params.vertices)
                       in.fail("expected two vertex ids from 0 to " + std::to_string(params.vertices - 1));
                     at = next;
                   }
                   edges.emplace_back(ids[0], ids[1]);
                 }
               });
  canary::scatter("by_source", canary::reads(read_edges), canary::to(owned_edges),
                  [params](canary::Task& t, const Edges& edges, canary::Emit<Edges>& out) {
                    std::vector<Edges> per(t.partitions());
                    for (const auto& e : edges)
                      per[canary::owner_of(e.first, params.vertices, t.partitions())].push_back(e);
                    for (int p = 0; p < t.partitions(); ++p)
                      if (!per[p].empty()) out.send(p, per[p]);
                  });
  canary::gather("own", owned_edges, [](canary::Task&, canary::Chunks<Edges>& in, Edges& mine) {
    for (const Edges& chunk : in) mine.insert(mine.end(), chunk.begin(), chunk.end());
  });
  canary::transform("build", canary::reads(owned_edges), canary::writes(graph),
                    [params](canary::Task& t, const Edges& edges, Vertices& v) {
                      auto [first, end] = canary::range_of(t.index(), params.vertices, t.partitions());
                      v.first = first;
                      v.rank.assign(end - first, 1.0 / params.vertices);
                      v.out.assign(end - first, {});
                      for (const auto& [from, to] : edges) v.out[from - first].push_back(to);
                    });
  canary::loop(params.iterations, [&] {
    canary::scatter("contribute", canary::reads(graph), canary::to(incoming),
                    [params](canary::Task& t, const Vertices& v, canary::Emit<Contributions>& out) {
                      std::vector<Contributions> per(t.partitions());
                      for (std::size_t i = 0; i < v.rank.size(); ++i) {
                        const std::vector<long>& targets = v.out[i];
                        if (targets.empty()) {  // keeps its rank
                          long self = v.first + static_cast<long>(i);
                          per[t.index()].emplace_back(self, v.rank[i]);
                          continue;
                        }
                        double share = v.rank[i] / static_cast<double>(targets.size());
                        for (long target : targets)
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
  canary::write("save", canary::reads(graph), canary::files(params.output),
                [](canary::Task&, const Vertices& v, canary::Sink& out) {
                  char rank[32];
                  for (std::size_t i = 0; i < v.rank.size(); ++i) {
                    std::snprintf(rank, sizeof rank, "%.17g", v.rank[i]);
                    out.line(std::to_string(v.first + static_cast<long>(i)) + "\t" + rank);
                  }
                });
}
