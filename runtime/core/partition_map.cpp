#include "core/partition_map.h"

#include <algorithm>

namespace canary::rt {

std::size_t PartitionMap::entries() const {
  std::size_t n = 0;
  for (const auto& g : owner) n += g.size();
  return n;
}

PartitionMap PartitionMap::single(const Program& program, const std::vector<int>& dataset_partitions) {
  PartitionMap map;
  for (std::size_t d = 0; d < program.datasets.size(); ++d) {
    std::size_t g = program.group_of[d];
    if (map.owner.size() <= g) map.owner.resize(g + 1);
    map.owner[g].assign(dataset_partitions[d], WorkerId(0));
    if (map.version.size() <= g) map.version.resize(g + 1);
    map.version[g].assign(dataset_partitions[d], Version(1));
  }
  return map;
}

PartitionMap rebalanced(PartitionMap map, const std::vector<int>& threads_per_worker) {
  const std::vector<int>& threads = threads_per_worker;
  std::vector<int> load(threads.size(), 0);
  for (const auto& g : map.owner)
    for (WorkerId w : g)
      if (threads[w.value()] > 0) ++load[w.value()];
  auto per_thread = [&](std::size_t w, int extra) {
    return (load[w] + extra) / static_cast<double>(threads[w]);
  };
  auto least_loaded = [&] {
    std::size_t best = threads.size();
    for (std::size_t w = 0; w < threads.size(); ++w)
      if (threads[w] > 0 && (best == threads.size() || per_thread(w, 1) < per_thread(best, 1))) best = w;
    return best;
  };
  auto move = [&](std::size_t g, std::size_t i, std::size_t to) {
    map.owner[g][i] = WorkerId(static_cast<int>(to));
    map.version[g][i] = Version(map.version[g][i].value() + 1);
    ++load[to];
  };
  if (least_loaded() == threads.size()) return map;  // nobody to give anything to
  for (std::size_t g = 0; g < map.owner.size(); ++g)
    for (std::size_t i = 0; i < map.owner[g].size(); ++i)
      if (threads[map.owner[g][i].value()] == 0) move(g, i, least_loaded());
  for (;;) {
    std::size_t most = least_loaded(), least = most;
    for (std::size_t w = 0; w < threads.size(); ++w)
      if (threads[w] > 0 && per_thread(w, 0) > per_thread(most, 0)) most = w;
    if (per_thread(least, 1) >= per_thread(most, 0)) return map;  // moving one would not even them out
    for (std::size_t g = map.owner.size(); g-- > 0;) {
      auto it = std::find(map.owner[g].rbegin(), map.owner[g].rend(), WorkerId(static_cast<int>(most)));
      if (it == map.owner[g].rend()) continue;
      --load[most];
      move(g, static_cast<std::size_t>(map.owner[g].rend() - it - 1), least);
      break;
    }
  }
}

PartitionMap initial_map(const Program& program, const void* params,
                         const std::vector<int>& threads_per_worker) {
  std::vector<int> dataset_partitions, loops;
  program.counts(params, dataset_partitions, loops);
  PartitionMap map = PartitionMap::single(program, dataset_partitions);
  // Deals each group's partitions, one at a time, to the worker whose
  // threads would be least loaded with one more.
  std::vector<double> load(threads_per_worker.size(), 0);
  for (auto& g : map.owner)
    for (WorkerId& owner : g) {
      std::size_t best = 0;
      for (std::size_t w = 1; w < load.size(); ++w)
        if ((load[w] + 1) / threads_per_worker[w] < (load[best] + 1) / threads_per_worker[best]) best = w;
      load[best] += 1;
      owner = WorkerId(static_cast<int>(best));
    }
  return map;
}

}  // namespace canary::rt
