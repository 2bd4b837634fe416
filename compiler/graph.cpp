// Builds the data-dependency edges by a dataflow pass over the structured
// program: the state is, per dataset, the stages that may have written it
// last and the stages that read it since. Branches merge their states. A loop
// body is walked once; the edges into its next iteration go from the state
// that iteration leaves to the body's *exposed* accesses (those no stage
// before them in the body is sure to overwrite), which are listed once per
// block. Walking a body twice, as the textbook fixed point does, doubles the
// work with every level of nesting.
#include "graph.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "touches.h"

namespace canary::compiler {
namespace {

struct DataState {
  std::set<StageId> writers;
  std::set<StageId> readers;
};
using FlowState = std::map<DatasetId, DataState>;

FlowState merge(FlowState a, const FlowState& b) {
  for (const auto& [d, s] : b) {
    a[d].writers.insert(s.writers.begin(), s.writers.end());
    a[d].readers.insert(s.readers.begin(), s.readers.end());
  }
  return a;
}

class EdgeBuilder {
 public:
  explicit EdgeBuilder(const Job& job) : job_(job) {}

  std::vector<Edge> run() {
    walk(job_.body, FlowState{}, kNone);
    add_chunk_edges(job_.body);
    return std::move(edges_);
  }

 private:
  void add(StageId from, StageId to, DatasetId d, EdgeKind kind, BlockId crosses) {
    if (seen_.insert({from, to, d, static_cast<int>(kind)}).second)
      edges_.push_back({from, to, d, kind, crosses});
  }

  void apply(const Stage& s, FlowState& state, BlockId crosses) {
    for (DatasetId d : s.reads) {
      for (StageId w : state[d].writers) add(w, s.id, d, EdgeKind::ReadAfterWrite, crosses);
      state[d].readers.insert(s.id);
    }
    for (DatasetId d : s.writes) {
      DataState& ds = state[d];
      bool also_reads = std::count(s.reads.begin(), s.reads.end(), d) > 0;
      if (!also_reads)
        for (StageId w : ds.writers) add(w, s.id, d, EdgeKind::WriteAfterWrite, crosses);
      for (StageId r : ds.readers)
        if (r != s.id) add(r, s.id, d, EdgeKind::WriteAfterRead, crosses);
      ds.writers = {s.id};
      ds.readers.clear();
    }
  }

  FlowState walk(const std::vector<Node>& body, FlowState state, BlockId crosses) {
    for (const Node& n : body) {
      if (n.kind == Node::Kind::Stage) {
        apply(job_.stages[n.id], state, crosses);
        continue;
      }
      const Block& b = job_.blocks[n.id];
      switch (b.kind) {
        case BlockKind::If: {
          apply(job_.stages[b.signal], state, crosses);
          state = merge(walk(b.body, state, crosses), walk(b.else_body, state, crosses));
          break;
        }
        case BlockKind::Loop: {
          // A loop may run zero times, so its exit state includes its entry.
          FlowState once = walk(b.body, state, crosses);
          into_next_iteration(b, once);
          state = merge(state, once);
          break;
        }
        case BlockKind::While: {
          // The signal runs before every iteration and once more to leave.
          const Stage& signal = job_.stages[b.signal];
          FlowState head = state;
          apply(signal, head, crosses);
          FlowState once = walk(b.body, head, crosses);
          state = merge(state, once);
          apply(signal, state, b.id);
          into_next_iteration(b, once);
          break;
        }
      }
    }
    return state;
  }

  // An access that sees the state its block was entered with.
  struct Access {
    StageId stage;
    DatasetId dataset;
    bool read;  // else a write
  };

  // The edges from what one iteration of `b` leaves to what the next one
  // touches first (the while's signal is applied by the caller).
  void into_next_iteration(const Block& b, const FlowState& left) {
    for (const Access& a : exposed(b)) {
      auto it = left.find(a.dataset);
      if (it == left.end()) continue;
      const Stage& s = job_.stages[a.stage];
      if (a.read) {
        for (StageId w : it->second.writers) add(w, s.id, a.dataset, EdgeKind::ReadAfterWrite, b.id);
        continue;
      }
      if (std::count(s.reads.begin(), s.reads.end(), a.dataset) == 0)
        for (StageId w : it->second.writers) add(w, s.id, a.dataset, EdgeKind::WriteAfterWrite, b.id);
      for (StageId r : it->second.readers)
        if (r != s.id) add(r, s.id, a.dataset, EdgeKind::WriteAfterRead, b.id);
    }
  }

  // What a block's body (both arms of an if_) does to the state it is
  // entered with: which of its accesses see that state, in program order,
  // and which datasets it surely writes. Made once per block.
  struct Summary {
    std::vector<Access> exposed;
    std::set<DatasetId> kills;
  };

  const Summary& summary(const Block& b) {
    auto it = summaries_.find(b.id);
    if (it != summaries_.end()) return it->second;
    Summary out;
    std::set<DatasetId> then_kills = expose(b.body, out.exposed);
    if (b.kind == BlockKind::If) {  // written by both arms; a loop may not run at all
      std::set<DatasetId> else_kills = expose(b.else_body, out.exposed);
      for (DatasetId d : then_kills)
        if (else_kills.count(d)) out.kills.insert(d);
    }
    return summaries_[b.id] = std::move(out);
  }

  const std::vector<Access>& exposed(const Block& b) { return summary(b).exposed; }

  // Appends the accesses of `body` that no earlier access in it surely
  // hides; returns the datasets `body` surely writes.
  std::set<DatasetId> expose(const std::vector<Node>& body, std::vector<Access>& out) {
    std::set<DatasetId> killed;
    auto stage = [&](const Stage& s) {
      for (DatasetId d : s.reads)
        if (!killed.count(d)) out.push_back({s.id, d, true});
      for (DatasetId d : s.writes)
        if (!killed.count(d)) out.push_back({s.id, d, false});
    };
    for (const Node& n : body) {
      if (n.kind == Node::Kind::Stage) {
        const Stage& s = job_.stages[n.id];
        stage(s);
        killed.insert(s.writes.begin(), s.writes.end());
        continue;
      }
      const Block& b = job_.blocks[n.id];
      if (b.signal != kNone) stage(job_.stages[b.signal]);
      const Summary& inner = summary(b);
      for (const Access& a : inner.exposed)
        if (!killed.count(a.dataset)) out.push_back(a);
      killed.insert(inner.kills.begin(), inner.kills.end());
    }
    return killed;
  }

  // Pairs each scatter with the next gather of its destination in its block.
  void add_chunk_edges(const std::vector<Node>& body) {
    std::map<DatasetId, StageId> open;
    for (const Node& n : body) {
      if (n.kind == Node::Kind::Block) {
        add_chunk_edges(job_.blocks[n.id].body);
        add_chunk_edges(job_.blocks[n.id].else_body);
        continue;
      }
      const Stage& s = job_.stages[n.id];
      if (s.kind == StageKind::Scatter) open[s.scatter_to] = s.id;
      if (s.kind == StageKind::Gather) {
        auto it = open.find(s.writes.front());
        if (it != open.end()) {
          add(it->second, s.id, it->first, EdgeKind::Chunks, kNone);
          open.erase(it);
        }
      }
    }
  }

  const Job& job_;
  std::vector<Edge> edges_;
  std::set<std::tuple<StageId, StageId, DatasetId, int>> seen_;
  std::map<BlockId, Summary> summaries_;
};

// Union-find over datasets: one task touching several datasets joins them.
class Groups {
 public:
  explicit Groups(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  int find(int x) { return parent_[x] == x ? x : parent_[x] = find(parent_[x]); }
  void join(const std::vector<DatasetId>& ids) {
    for (std::size_t i = 1; i < ids.size(); ++i) parent_[find(ids[i])] = find(ids[0]);
  }

 private:
  std::vector<int> parent_;
};

}  // namespace

Graph build_graph(Job job) {
  Graph g;
  g.edges = EdgeBuilder(job).run();
  std::stable_sort(g.edges.begin(), g.edges.end(), [](const Edge& a, const Edge& b) {
    return std::tie(a.to, a.from, a.dataset) < std::tie(b.to, b.from, b.dataset);
  });

  Groups groups(job.datasets.size());
  // What one task touches partition i of lives on one worker.
  for (const Stage& s : job.stages) groups.join(touches_of(s).main);
  g.group_of.assign(job.datasets.size(), kNone);
  std::map<int, int> group_of_root;
  for (const Dataset& d : job.datasets) {
    auto [it, fresh] = group_of_root.emplace(groups.find(d.id), static_cast<int>(g.groups.size()));
    if (fresh) g.groups.push_back({it->second, {}, d.partitions});
    g.groups[it->second].datasets.push_back(d.id);
    g.group_of[d.id] = it->second;
  }
  g.job = std::move(job);
  return g;
}

const char* to_string(EdgeKind kind) {
  switch (kind) {
    case EdgeKind::ReadAfterWrite:
      return "raw";
    case EdgeKind::WriteAfterRead:
      return "war";
    case EdgeKind::WriteAfterWrite:
      return "waw";
    case EdgeKind::Chunks:
      return "chunks";
  }
  return "?";
}

}  // namespace canary::compiler
