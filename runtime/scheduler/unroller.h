// Unrolling (paper section 4.1): the program's static blocks become one
// numbered sequence of stage instances, the same on every shard of every
// worker; a signal's value, once known, decides the way. Every instance
// records, per dataset it touches, how many instances touched it before: its
// *position*, which is each partition's turn (docs/runtime.md, "Access
// positions").
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/messages.h"
#include "scheduler/plan.h"

namespace canary::rt {

constexpr std::uint64_t kNoSeq = ~0ULL;

// One stage instance as the unrolling makes it.
struct StageInstance {
  StageId stage{-1};
  std::uint64_t seq = 0;        // its number in the sequence
  std::vector<int> iterations;  // of the enclosing loops, outermost first
  // (dataset, its access number): how many instances touched that dataset
  // before this one. Every instance touches every partition of the datasets
  // it touches, so this is also each partition's turn.
  std::vector<std::pair<int, std::uint64_t>> positions;
  std::uint64_t source = kNoSeq;  // a gather's scatter
  int source_senders = 0;         // how many tasks that scatter has
  int cut = 0;                    // > 0: the cut of snapshot `cut` lies just before this instance

  std::uint64_t position_of(int dataset) const {
    for (const auto& [d, p] : positions)
      if (d == dataset) return p;
    return kNoSeq;
  }
};

// A copy taken earlier replays the same sequence: that is how a shard finds
// the instances a partition that migrates to it still needs.
class Unroller {
 public:
  explicit Unroller(const Plan& plan);

  enum class Next {
    Instance,
    Signal,
    End
  };  // an instance; waiting for a signal's value; the program is over

  // The next instance into `out`, given the signals' values known so far (by seq).
  Next next(StageInstance& out, const std::unordered_map<std::uint64_t, bool>& signals);

  std::uint64_t issued() const { return next_seq_; }
  std::uint64_t accesses(int dataset) const { return accesses_[dataset]; }

 private:
  // A block being unrolled: where in which node list, and which iteration.
  struct Frame {
    const std::vector<Node>* nodes;
    std::size_t next = 0;
    int block = -1;  // -1: the job body
    int iteration = 0;
    int count = 0;  // loops
  };

  bool enter(int block, StageInstance& out);
  void await(int block, StageInstance& out);
  void resolve(bool value);
  void make(int stage, StageInstance& out);
  int cut_before();

  const Plan* plan_;
  std::vector<Frame> frames_;
  std::pair<int, int> outer_{-1, 0};  // cut_before()'s outermost loop iteration so far
  int cuts_ = 0;
  std::uint64_t next_seq_ = 0;
  std::vector<std::uint64_t> accesses_;  // per dataset
  std::uint64_t waiting_signal_ = kNoSeq;
  int waiting_block_ = -1;
  std::map<int, std::pair<std::uint64_t, int>> pending_scatter_;  // destination -> (scatter seq, senders)
};

// The unrolling keeps a copy of itself this often, to replay from (see
// Shard::install()).
constexpr std::uint64_t kCheckpointEvery = 1024;

// Where every shard of a worker starts: the unrolling at the cut of the
// snapshot the run starts from (none: the program's start), with its
// checkpoints and the signal values before the cut.
struct StartPoint {
  Unroller unroller;
  std::vector<Unroller> checkpoints;
  std::unordered_map<std::uint64_t, bool> signals;
  int snapshot = 0;
};

StartPoint program_start(const Plan& plan);
// Rollback: replays the unrolling up to `cut` with the signal values the
// snapshot recorded, as every shard made it before. Throws
// std::runtime_error when the cut does not fit the program.
StartPoint fast_forward(const Plan& plan, const Cut& cut);

}  // namespace canary::rt
