#include "controller/balancer.h"

#include <algorithm>
#include <utility>

namespace canary::rt {

Balancer::Balancer(std::vector<int> threads_per_worker)
    : threads_(std::move(threads_per_worker)),
      base_(threads_.size()),
      latest_(threads_.size()),
      slowness_(threads_.size(), 1.0) {}

void Balancer::report(WorkerId worker, double at_s, std::map<GroupPartition, Load> groups) {
  int w = worker.value();
  if (w < 0 || w >= static_cast<int>(latest_.size())) return;
  latest_[w] = {at_s, std::move(groups)};
  if (base_[w].at_s < 0) base_[w] = latest_[w];
}

void Balancer::moved() {
  for (Sample& s : base_) s.at_s = -1;
  settling_ = true;
}

Balancer::Window Balancer::window(int worker) const {
  const Sample &from = base_[worker], &to = latest_[worker];
  Window w;
  w.seconds = to.at_s - from.at_s;
  std::map<int, Load> per_group;
  for (const auto& [key, now] : to.groups) {
    auto before = from.groups.find(key);
    if (before == from.groups.end() || now.tasks < before->second.tasks) continue;  // not held throughout
    Load done{now.tasks - before->second.tasks, now.cpu_s - before->second.cpu_s};
    w.work[key] = done;
    per_group[key.group.value()].tasks += done.tasks;
    per_group[key.group.value()].cpu_s += done.cpu_s;
  }
  for (const auto& [g, done] : per_group)
    if (done.tasks > 0) w.unit_cost[g] = done.cpu_s / done.tasks;
  return w;
}

// Compares the CPU time per task of the same co-location group on different
// workers: a worker twice as slow spends twice as long on each.
void Balancer::learn_speeds(const std::vector<Window>& windows) {
  std::map<int, std::vector<std::pair<int, double>>> per_group;  // group -> (worker, unit cost)
  for (std::size_t w = 0; w < windows.size(); ++w)
    for (const auto& [g, cost] : windows[w].unit_cost) per_group[g].emplace_back(static_cast<int>(w), cost);
  const std::vector<std::pair<int, double>>* widest = nullptr;  // the group that ran on the most workers
  for (const auto& [g, costs] : per_group)
    if (!widest || costs.size() > widest->size()) widest = &costs;
  if (!widest || widest->size() < 2) return;
  double mean = 0;
  for (const auto& [w, cost] : *widest) mean += cost / widest->size();
  if (mean <= 0) return;
  for (const auto& [w, cost] : *widest) slowness_[w] = std::max(cost / mean, 1e-3);
}

std::optional<Move> Balancer::decide() {
  if (!plan_.empty()) {
    Move next = plan_.front();
    plan_.pop_front();
    return next;
  }
  int n = static_cast<int>(threads_.size());
  auto takes_part = [&](int w) { return threads_[w] > 0; };
  for (int w = 0; w < n; ++w)
    if (takes_part(w) && (base_[w].at_s < 0 || latest_[w].at_s <= base_[w].at_s))
      return std::nullopt;  // a window not yet full
  std::vector<Window> windows;
  for (int w = 0; w < n; ++w) windows.push_back(window(w));
  // A window must hold several tasks per partition group (a task still
  // running counts nowhere): until then it grows.
  std::uint64_t most = 0;
  for (const Window& w : windows)
    for (const auto& [key, done] : w.work) most = std::max(most, done.tasks);
  if (most < kMinTasks) return std::nullopt;
  base_ = latest_;
  if (std::exchange(settling_, false)) return std::nullopt;
  learn_speeds(windows);

  // The busy fraction of each worker's threads. In a job whose partitions
  // wait for each other, the straggler is busy while the others wait.
  auto fraction = [&](int w, double cpu_s) { return cpu_s / (threads_[w] * windows[w].seconds); };
  std::vector<double> busy(n, 0);
  int busiest = -1, idlest = -1;
  for (int w = 0; w < n; ++w) {
    if (!takes_part(w)) continue;
    for (const auto& [key, done] : windows[w].work) busy[w] += fraction(w, done.cpu_s);
    if (busiest < 0 || busy[w] > busy[busiest]) busiest = w;
    if (idlest < 0 || busy[w] < busy[idlest]) idlest = w;
  }
  if (busiest < 0) return std::nullopt;
  if (busy[busiest] < kBusy || busy[busiest] - busy[idlest] < kSpread) return std::nullopt;
  // Moving a group takes its time off the busiest and adds it, scaled by the
  // two workers' speeds, to the idlest. With many small groups no single move
  // clears kGain, but several do: groups go one at a time, each the one that
  // leaves the busier of the two least busy, while that still drops. The
  // speeds come from one group's tasks on either worker, so they cannot tell
  // a slow worker from slow partitions; a move after the first must also
  // help if the speeds are equal, or a plan could overshoot.
  struct Pair {
    double from, to;  // the busy fractions of the busiest and the idlest
    double busier() const { return std::max(from, to); }
  };
  Pair scaled{busy[busiest], busy[idlest]}, unscaled = scaled;
  std::map<GroupPartition, double> left;  // CPU seconds of the groups not yet picked
  for (const auto& [key, done] : windows[busiest].work) left[key] = done.cpu_s;
  std::vector<Move> plan;
  for (;;) {
    std::optional<GroupPartition> pick;
    Pair pick_scaled = scaled, pick_unscaled = unscaled;
    for (const auto& [key, cpu_s] : left) {
      double here = fraction(busiest, cpu_s);
      Pair s{scaled.from - here,
             scaled.to + fraction(idlest, cpu_s * slowness_[idlest] / slowness_[busiest])};
      Pair u{unscaled.from - here, unscaled.to + fraction(idlest, cpu_s)};
      if (here > 0 && s.busier() < pick_scaled.busier() && (plan.empty() || u.busier() < unscaled.busier())) {
        pick = key;
        pick_scaled = s;
        pick_unscaled = u;
      }
    }
    if (!pick) break;
    plan.push_back(Move{*pick, WorkerId(busiest), WorkerId(idlest)});
    left.erase(*pick);
    scaled = pick_scaled;
    unscaled = pick_unscaled;
  }
  if (plan.empty() || scaled.busier() >= busy[busiest] * (1 - kGain)) return std::nullopt;
  plan_.assign(plan.begin() + 1, plan.end());
  return plan.front();
}

}  // namespace canary::rt
