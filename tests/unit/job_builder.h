// Builds job models by hand for unit tests, in the driver's own order:
//   JobBuilder b;
//   auto data = b.dataset("data", Count::of(4));
//   b.transform("init", {}, {data});
//   b.loop(Count::of(3), [&] { b.transform("step", {data}, {data}); });
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "job.h"

namespace canary::compiler::testing {

class JobBuilder {
 public:
  DatasetId dataset(const std::string& name, Count partitions) {
    DatasetId id = static_cast<DatasetId>(job.datasets.size());
    job.datasets.push_back({id, name, "double", std::move(partitions), line()});
    return id;
  }
  StageId transform(const std::string& name, std::vector<DatasetId> reads, std::vector<DatasetId> writes) {
    return stage(name, StageKind::Transform, std::move(reads), std::move(writes));
  }
  StageId scatter(const std::string& name, std::vector<DatasetId> reads, DatasetId to) {
    StageId id = stage(name, StageKind::Scatter, std::move(reads), {});
    job.stages[id].scatter_to = to;
    return id;
  }
  StageId gather(const std::string& name, DatasetId d) { return stage(name, StageKind::Gather, {}, {d}); }
  StageId reduce(const std::string& name, DatasetId many, DatasetId single) {
    return stage(name, StageKind::Reduce, {many}, {single});
  }
  StageId broadcast(const std::string& name, DatasetId single, DatasetId many) {
    return stage(name, StageKind::Broadcast, {single}, {many});
  }
  BlockId loop(Count count, const std::function<void()>& body) {
    BlockId id = open(BlockKind::Loop);
    job.blocks[id].count = std::move(count);
    nest(id, Branch::None, &Block::body, body);
    return id;
  }
  BlockId loop_while(const std::string& signal, DatasetId s, const std::function<void()>& body) {
    BlockId id = open(BlockKind::While);
    job.blocks[id].signal = signal_stage(signal, s, id);
    nest(id, Branch::None, &Block::body, body);
    return id;
  }
  BlockId if_(
      const std::string& signal, DatasetId s, const std::function<void()>& then_body,
      const std::function<void()>& else_body = [] {}) {
    BlockId id = open(BlockKind::If);
    job.blocks[id].signal = signal_stage(signal, s, id);
    nest(id, Branch::Then, &Block::body, then_body);
    nest(id, Branch::Else, &Block::else_body, else_body);
    return id;
  }

  Job job;

 private:
  // Each declaration gets a line of its own, so diagnostics can be told apart.
  SourceLoc line() { return SourceLoc{"driver.cpp", ++line_, 1, 0}; }

  StageId stage(const std::string& name, StageKind kind, std::vector<DatasetId> reads,
                std::vector<DatasetId> writes) {
    Stage s;
    s.id = static_cast<StageId>(job.stages.size());
    s.name = name;
    s.kind = kind;
    s.reads = std::move(reads);
    s.writes = std::move(writes);
    const std::vector<DatasetId>& first = s.reads.empty() ? s.writes : s.reads;
    s.partitions = first.empty() ? Count::of(1) : job.datasets[first.front()].partitions;
    s.block = block_;
    s.branch = branch_;
    s.loc = line();
    job.stages.push_back(s);
    current().push_back({Node::Kind::Stage, s.id});
    return s.id;
  }
  StageId signal_stage(const std::string& name, DatasetId s, BlockId block) {
    Stage st;
    st.id = static_cast<StageId>(job.stages.size());
    st.name = name;
    st.kind = StageKind::Signal;
    st.reads = {s};
    st.partitions = Count::of(1);
    st.block = block;
    st.loc = line();
    job.stages.push_back(st);
    return st.id;
  }
  BlockId open(BlockKind kind) {
    Block b;
    b.id = static_cast<BlockId>(job.blocks.size());
    b.kind = kind;
    b.parent = block_;
    b.loc = line();
    job.blocks.push_back(b);
    current().push_back({Node::Kind::Block, b.id});
    return b.id;
  }
  void nest(BlockId id, Branch branch, std::vector<Node> Block::*arm, const std::function<void()>& body) {
    BlockId outer_block = block_;
    Branch outer_branch = branch_;
    std::vector<Node> Block::*outer_arm = arm_;
    block_ = id;
    branch_ = branch;
    arm_ = arm;
    body();
    block_ = outer_block;
    branch_ = outer_branch;
    arm_ = outer_arm;
  }
  std::vector<Node>& current() { return block_ == kNone ? job.body : job.blocks[block_].*arm_; }

  unsigned line_ = 0;
  BlockId block_ = kNone;
  Branch branch_ = Branch::None;
  std::vector<Node> Block::*arm_ = &Block::body;
};

}  // namespace canary::compiler::testing
