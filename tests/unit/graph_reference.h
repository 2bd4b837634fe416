// The stage graph's edges by their textbook definition, for tests to hold
// the builder against: a dataflow walk that runs every loop body twice (the
// second time from the state its first iteration left), so that the edges
// found only then cross that loop's iteration. It is exponential in the
// nesting depth, which is why the builder does not do it.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "graph.h"

namespace canary::compiler::testing {

class ReferenceEdges {
 public:
  explicit ReferenceEdges(const Job& job) : job_(job) {}

  // Every dataflow edge once (not the chunk edges of scatter/gather pairs),
  // sorted like Graph::edges.
  std::vector<Edge> run() {
    walk(job_.body, {}, kNone);
    std::stable_sort(edges_.begin(), edges_.end(), [](const Edge& a, const Edge& b) {
      return std::tie(a.to, a.from, a.dataset) < std::tie(b.to, b.from, b.dataset);
    });
    return edges_;
  }

 private:
  struct DataState {
    std::set<StageId> writers, readers;
  };
  using FlowState = std::map<DatasetId, DataState>;

  static FlowState merge(FlowState a, const FlowState& b) {
    for (const auto& [d, s] : b) {
      a[d].writers.insert(s.writers.begin(), s.writers.end());
      a[d].readers.insert(s.readers.begin(), s.readers.end());
    }
    return a;
  }

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
      if (std::count(s.reads.begin(), s.reads.end(), d) == 0)
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
      if (b.kind == BlockKind::If) {
        apply(job_.stages[b.signal], state, crosses);
        state = merge(walk(b.body, state, crosses), walk(b.else_body, state, crosses));
      } else if (b.kind == BlockKind::Loop) {
        FlowState once = walk(b.body, state, crosses);
        state = merge(state, walk(b.body, merge(state, once), b.id));
      } else {
        const Stage& signal = job_.stages[b.signal];
        FlowState head = state;
        apply(signal, head, crosses);
        FlowState next = merge(state, walk(b.body, head, crosses));
        apply(signal, next, b.id);
        walk(b.body, next, b.id);
        state = next;
      }
    }
    return state;
  }

  const Job& job_;
  std::vector<Edge> edges_;
  std::set<std::tuple<StageId, StageId, DatasetId, int>> seen_;
};

}  // namespace canary::compiler::testing
