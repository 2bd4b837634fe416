// The controller's load-balancing policy (paper section 3.3): it sees the
// workers' periodic load reports and decides which partition group, if any,
// should move off a straggler, and to where. It only decides; the controller
// carries the move out. Kept free of sockets so that tests can feed it.
#pragma once

#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace canary::rt {

struct Move {
  int group;
  int partition;
  int from;
  int to;
};

class Balancer {
 public:
  explicit Balancer(std::vector<int> threads_per_worker);

  // A load report, as cumulative figures since the worker started: busy
  // seconds over its threads, and CPU seconds per partition group it holds,
  // keyed (group, partition). `at_s` is the controller's clock.
  void report(int worker, double at_s, double busy_s, std::map<std::pair<int, int>, double> group_cpu_s);

  // Once every worker reported since the last decision: the move that makes
  // the busiest worker and the least busy one, together, finish their work
  // soonest, if that beats the busiest alone by `kGain`. Each decision
  // starts a new measuring window.
  std::optional<Move> decide();

  // Loads measured before a move say nothing about after it: start afresh.
  void moved();

  // Below this busy fraction no worker holds anyone up.
  static constexpr double kBusy = 0.5;
  // How much faster the pair must get; a move that does not clear this is
  // noise, and refusing it keeps groups from moving back and forth.
  static constexpr double kGain = 0.15;

 private:
  struct Sample {
    double at_s = -1;
    double busy_s = 0;
    std::map<std::pair<int, int>, double> cpu_s;
  };
  struct Window {
    double load = 0;                              // busy fraction of its threads
    std::map<std::pair<int, int>, double> cost;  // per group held throughout: CPU seconds per second
  };
  Window window(int worker) const;
  void learn_speeds(const std::vector<Window>& windows);

  std::vector<int> threads_;
  std::vector<Sample> base_, latest_;
  // Per worker: its CPU time per partition relative to the others' (1: as
  // fast as the average). Kept while a worker holds nothing to compare.
  std::vector<double> slowness_;
};

}  // namespace canary::rt
