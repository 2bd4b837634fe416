#include "balancer.h"

#include <algorithm>

namespace canary::rt {

Balancer::Balancer(std::vector<int> threads_per_worker)
    : threads_(std::move(threads_per_worker)),
      base_(threads_.size()),
      latest_(threads_.size()),
      slowness_(threads_.size(), 1.0) {}

void Balancer::report(int worker, double at_s, double busy_s, std::map<std::pair<int, int>, double> group_cpu_s) {
  if (worker < 0 || worker >= static_cast<int>(latest_.size())) return;
  latest_[worker] = {at_s, busy_s, std::move(group_cpu_s)};
  if (base_[worker].at_s < 0) base_[worker] = latest_[worker];
}

void Balancer::moved() {
  for (Sample& s : base_) s.at_s = -1;
}

Balancer::Window Balancer::window(int worker) const {
  const Sample &from = base_[worker], &to = latest_[worker];
  double seconds = to.at_s - from.at_s;
  Window w;
  w.load = (to.busy_s - from.busy_s) / (seconds * threads_[worker]);
  for (const auto& [group, cpu] : to.cpu_s) {
    auto before = from.cpu_s.find(group);
    if (before != from.cpu_s.end()) w.cost[group] = (cpu - before->second) / seconds;
  }
  return w;
}

// Compares the CPU time per partition of the same co-location group on
// different workers: a worker twice as slow spends twice as much on each.
void Balancer::learn_speeds(const std::vector<Window>& windows) {
  std::map<int, std::vector<std::pair<int, double>>> per_group;  // group -> (worker, mean cost per partition)
  for (std::size_t w = 0; w < windows.size(); ++w) {
    std::map<int, std::pair<double, int>> sums;
    for (const auto& [group, cost] : windows[w].cost) {
      sums[group.first].first += cost;
      ++sums[group.first].second;
    }
    for (const auto& [g, sum] : sums) per_group[g].emplace_back(static_cast<int>(w), sum.first / sum.second);
  }
  const std::vector<std::pair<int, double>>* widest = nullptr;  // the group held by the most workers
  for (const auto& [g, costs] : per_group)
    if (!widest || costs.size() > widest->size()) widest = &costs;
  if (!widest || widest->size() < 2) return;
  double mean = 0;
  for (const auto& [w, cost] : *widest) mean += cost / widest->size();
  if (mean <= 0) return;
  for (const auto& [w, cost] : *widest) slowness_[w] = std::max(cost / mean, 1e-3);
}

std::optional<Move> Balancer::decide() {
  int n = static_cast<int>(threads_.size());
  for (int w = 0; w < n; ++w)
    if (base_[w].at_s < 0 || latest_[w].at_s <= base_[w].at_s) return std::nullopt;  // a window not yet full
  std::vector<Window> windows;
  for (int w = 0; w < n; ++w) windows.push_back(window(w));
  base_ = latest_;
  learn_speeds(windows);
  int busiest = 0, idlest = 0;
  for (int w = 1; w < n; ++w) {
    if (windows[w].load > windows[busiest].load) busiest = w;
    if (windows[w].load < windows[idlest].load) idlest = w;
  }
  const Window &hot = windows[busiest], &cold = windows[idlest];
  if (busiest == idlest || hot.load < kBusy) return std::nullopt;
  std::optional<Move> best;
  double best_time = hot.load * (1 - kGain);
  for (const auto& [group, cost] : hot.cost) {
    double there = cost * slowness_[idlest] / slowness_[busiest];
    double time = std::max(hot.load - cost / threads_[busiest], cold.load + there / threads_[idlest]);
    if (cost > 0 && time < best_time) {
      best_time = time;
      best = Move{group.first, group.second, busiest, idlest};
    }
  }
  return best;
}

}  // namespace canary::rt
