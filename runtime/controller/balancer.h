// The controller's load-balancing policy (paper section 3.3): it sees the
// workers' periodic load reports and decides which partition group, if any,
// should move off a straggler, and to where. It only decides; the controller
// carries the move out. Kept free of sockets so that tests can feed it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/ids.h"

namespace canary::rt {

struct Move {
  GroupPartition which;
  WorkerId from;
  WorkerId to;
};

// What a worker did on one partition group so far.
struct Load {
  std::uint64_t tasks = 0;
  double cpu_s = 0;
};

class Balancer {
 public:
  // A worker with no threads takes no part (a lost one).
  explicit Balancer(std::vector<int> threads_per_worker);

  // A load report: per partition group the worker holds, its tasks and
  // their CPU time since the worker started. `at_s` is the controller's clock.
  void report(WorkerId worker, double at_s, std::map<GroupPartition, Load> groups);

  // Once every worker reported since the last decision: the moves of
  // partition groups from the busiest worker to the least busy one that
  // together make the busier of the two at least `kGain` less busy, if any.
  // The groups' CPU time per task on each worker says how much faster one
  // runs them than the other. Each decision starts a new measuring window.
  // One move is returned per call: the controller carries out one at a time,
  // and the next calls return the rest of the decision before measuring anew.
  std::optional<Move> decide();
  // Whether moves of the last decision are still to be returned.
  bool moves_pending() const { return !plan_.empty(); }

  // Loads measured before a move say nothing about after it: start afresh.
  void moved();

  // Below this busy fraction no worker holds anyone up, and a smaller gap
  // than kSpread between the busiest and the idlest is no straggler.
  static constexpr double kBusy = 0.5;
  static constexpr double kSpread = 0.25;
  // How much faster the pair must get; a move that does not clear this is
  // noise, and refusing it keeps groups from moving back and forth.
  static constexpr double kGain = 0.15;
  // Tasks per partition group a window needs before it says anything.
  static constexpr std::uint64_t kMinTasks = 6;

 private:
  struct Sample {
    double at_s = -1;
    std::map<GroupPartition, Load> groups;
  };
  // One worker's window: per partition group held throughout, what it did.
  struct Window {
    double seconds = 0;
    std::map<GroupPartition, Load> work;
    std::map<int, double> unit_cost;  // per group: CPU seconds per task, where it ran any
  };
  Window window(int worker) const;
  void learn_speeds(const std::vector<Window>& windows);

  std::vector<int> threads_;
  std::vector<Sample> base_, latest_;
  std::deque<Move> plan_;  // the moves decided but not yet handed out
  // Set by a move: the first window after it is the workers catching up
  // with it (the moved groups behind, their old holder ahead), so it is
  // measured but not decided on.
  bool settling_ = false;
  // Per worker: its CPU time per task relative to the others' (1: as fast
  // as the average). Kept while a worker holds nothing to compare.
  std::vector<double> slowness_;
};

}  // namespace canary::rt
