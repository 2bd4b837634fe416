#include "scheduler/unroller.h"

#include <stdexcept>
#include <string>
#include <tuple>

namespace canary::rt {

Unroller::Unroller(const Plan& plan) : plan_(&plan), accesses_(plan.program.datasets.size(), 0) {
  frames_.push_back({&plan.program.body});
}

Unroller::Next Unroller::next(StageInstance& step, const std::unordered_map<std::uint64_t, bool>& signals) {
  for (;;) {
    if (waiting_signal_ != kNoSeq) {
      auto it = signals.find(waiting_signal_);
      if (it == signals.end()) return Next::Signal;
      resolve(it->second);
    }
    if (frames_.empty()) return Next::End;
    Frame& f = frames_.back();
    if (f.next < f.nodes->size()) {
      const Node node = (*f.nodes)[f.next++];
      if (!node.is_block) {
        make(node.id, step);
        return Next::Instance;
      }
      if (enter(node.id, step)) return Next::Instance;
      continue;
    }
    if (f.block < 0) {
      frames_.pop_back();  // the end of the job body
      continue;
    }
    const BlockInfo& b = plan_->program.blocks[f.block];
    if (b.kind == BlockKind::Loop && ++f.iteration < f.count) {
      f.next = 0;
    } else if (b.kind == BlockKind::While) {
      ++f.iteration;
      await(f.block, step);  // decides whether the body runs again
      return Next::Instance;
    } else {
      frames_.pop_back();
    }
  }
}

// Returns whether it made an instance (the signal of a while or an if).
bool Unroller::enter(int block, StageInstance& step) {
  const BlockInfo& b = plan_->program.blocks[block];
  if (b.kind == BlockKind::Loop) {
    int count = plan_->loop_counts[block];
    if (count > 0) frames_.push_back({&b.body, 0, block, 0, count});
    return false;
  }
  if (b.kind == BlockKind::While) frames_.push_back({&b.body, b.body.size(), block, 0, 0});
  await(block, step);
  return true;
}

void Unroller::await(int block, StageInstance& step) {
  waiting_block_ = block;
  make(plan_->program.blocks[block].signal, step);
  waiting_signal_ = step.seq;
}

void Unroller::resolve(bool value) {
  waiting_signal_ = kNoSeq;
  const BlockInfo& b = plan_->program.blocks[waiting_block_];
  if (b.kind == BlockKind::While) {  // its frame is on top: nothing is unrolled while a signal is awaited
    if (value) {
      frames_.back().next = 0;
    } else {
      frames_.pop_back();
    }
  } else {
    frames_.push_back({value ? &b.body : &b.else_body, 0, waiting_block_, 0, 0});
  }
}

void Unroller::make(int stage, StageInstance& step) {
  const StageInfo& s = plan_->program.stages[stage];
  step.cut = cut_before();
  step.stage = StageId(stage);
  step.seq = next_seq_++;
  step.iterations.clear();
  for (const Frame& f : frames_)
    if (f.block >= 0 && plan_->program.blocks[f.block].kind != BlockKind::If)
      step.iterations.push_back(f.iteration);
  step.positions.clear();
  for (int d : s.main_touches) step.positions.emplace_back(d, accesses_[d]++);
  for (int d : s.single_touches) step.positions.emplace_back(d, accesses_[d]++);
  step.source = kNoSeq;
  step.source_senders = 0;
  if (s.kind == StageKind::Scatter) pending_scatter_[s.to] = {step.seq, plan_->partitions_of[s.reads[0]]};
  if (s.kind == StageKind::Gather) {
    auto it = pending_scatter_.find(s.writes[0]);
    if (it == pending_scatter_.end())
      throw std::logic_error("gather '" + s.name + "' has no scatter; canaryc should have refused this job");
    std::tie(step.source, step.source_senders) = it->second;
    pending_scatter_.erase(it);
  }
}

// Snapshots cut the run where an iteration of an outermost loop begins
// (every `snapshot_every`-th), unless a scatter's chunks would cross the
// cut: every shard finds the same cuts without a word to anyone.
int Unroller::cut_before() {
  std::pair<int, int> outer{-1, 0};  // (block, iteration) of the outermost loop around here
  for (const Frame& f : frames_)
    if (f.block >= 0 && plan_->program.blocks[f.block].kind != BlockKind::If) {
      outer = {f.block, f.iteration};
      break;
    }
  if (outer == outer_) return 0;
  outer_ = outer;
  bool cut = plan_->snapshot_every > 0 && outer.first >= 0 && outer.second > 0 &&
             outer.second % plan_->snapshot_every == 0 && pending_scatter_.empty();
  return cut ? ++cuts_ : 0;
}

StartPoint program_start(const Plan& plan) {
  StartPoint start{Unroller(plan), {}, {}, 0};
  start.checkpoints.push_back(start.unroller);
  return start;
}

StartPoint fast_forward(const Plan& plan, const Cut& cut) {
  StartPoint start = program_start(plan);
  start.snapshot = cut.snapshot;
  auto misfit = [&](const std::string& why) {
    return std::runtime_error("snapshot " + std::to_string(cut.snapshot) + " does not fit this job: " + why);
  };
  std::size_t next_signal = 0;
  StageInstance step;
  while (start.unroller.issued() < cut.seq) {
    if (start.unroller.next(step, start.signals) != Unroller::Next::Instance)
      throw misfit("its cut lies beyond the program's end");
    if (start.unroller.issued() % kCheckpointEvery == 0) start.checkpoints.push_back(start.unroller);
    if (plan.stage(step.stage).kind != StageKind::Signal) continue;
    if (next_signal == cut.signals.size()) throw misfit("it records too few signal values");
    start.signals[step.seq] = cut.signals[next_signal++];
  }
  if (next_signal != cut.signals.size()) throw misfit("it records too many signal values");
  return start;
}

}  // namespace canary::rt
