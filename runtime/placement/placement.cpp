#include "placement/placement.h"

#include <hwloc.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace canary::rt {
namespace {

using Topology = std::unique_ptr<hwloc_topology, void (*)(hwloc_topology_t)>;

Result<Topology> load_topology() {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) return Status::error("hwloc cannot start");
  Topology topology(raw, &hwloc_topology_destroy);
  if (hwloc_topology_load(raw) != 0) return Status::error("hwloc cannot read this machine's topology");
  return topology;
}

// One CPU per core of `set`: the first hardware thread of each.
std::vector<int> cores_in(hwloc_topology_t topology, hwloc_const_cpuset_t set) {
  std::vector<int> cpus;
  int cores = hwloc_get_nbobjs_inside_cpuset_by_type(topology, set, HWLOC_OBJ_CORE);
  for (int c = 0; c < cores; ++c) {
    hwloc_obj_t core = hwloc_get_obj_inside_cpuset_by_type(topology, set, HWLOC_OBJ_CORE, c);
    if (core && hwloc_bitmap_first(core->cpuset) >= 0) cpus.push_back(hwloc_bitmap_first(core->cpuset));
  }
  if (cpus.empty())  // no cores known: every hardware thread
    for (int cpu = hwloc_bitmap_first(set); cpu >= 0; cpu = hwloc_bitmap_next(set, cpu)) cpus.push_back(cpu);
  return cpus;
}

// The CPUs the kernel lets this process run on.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

}  // namespace

Result<std::vector<NumaNode>> numa_nodes() {
  Result<Topology> topology = load_topology();
  if (!topology.ok()) return topology.status();
  hwloc_topology_t t = topology.value().get();
  std::vector<NumaNode> nodes;
  int count = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < count; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, i);
    NumaNode n{i, cores_in(t, node->cpuset)};
    if (!n.cpus.empty()) nodes.push_back(std::move(n));  // memory-only nodes hold no workers
  }
  if (nodes.empty()) nodes.push_back({0, cores_in(t, hwloc_topology_get_topology_cpuset(t))});
  return nodes;
}

Result<std::vector<int>> parse_cpu_list(const std::string& flag, const std::string& list) {
  std::vector<int> cpus;
  auto bad = [&] {
    return Status::error(flag + " " + list + ": expected CPU numbers and ranges, e.g. 0-3,8");
  };
  std::size_t at = 0;
  while (at <= list.size()) {
    std::size_t comma = std::min(list.find(',', at), list.size());
    std::string_view item(list.data() + at, comma - at);
    std::size_t dash = item.find('-');
    int first = -1, last = -1;
    auto number = [](std::string_view text, int& value) {
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      return error == std::errc() && end == text.data() + text.size() && value >= 0 && value < CPU_SETSIZE;
    };
    if (dash == std::string_view::npos
            ? !number(item, first) || !number(item, last)
            : !number(item.substr(0, dash), first) || !number(item.substr(dash + 1), last) || last < first)
      return bad();
    for (int cpu = first; cpu <= last; ++cpu)
      if (std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) cpus.push_back(cpu);
    at = comma + 1;
  }
  return cpus;
}

std::string cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

Result<std::vector<int>> worker_cpus(int node, const std::string& cpus) {
  std::vector<int> chosen;
  if (node >= 0) {
    Result<std::vector<NumaNode>> nodes = numa_nodes();
    if (!nodes.ok()) return nodes.status().about("--numa-node: ");
    if (node >= static_cast<int>(nodes.value().size()))
      return Status::error("--numa-node " + std::to_string(node) + ": this machine has " +
                           (nodes.value().size() == 1
                                ? std::string("one NUMA node, 0")
                                : "NUMA nodes 0-" + std::to_string(nodes.value().size() - 1)));
    chosen = nodes.value()[node].cpus;
  } else if (!cpus.empty()) {
    Result<std::vector<int>> parsed = parse_cpu_list("--cpus", cpus);
    if (!parsed.ok()) return parsed.status();
    chosen = std::move(parsed).value();
  }
  Status runnable =
      check_runnable(chosen, node >= 0 ? "--numa-node " + std::to_string(node) : "--cpus " + cpus);
  if (!runnable.ok()) return runnable;
  return chosen;
}

Status check_runnable(const std::vector<int>& cpus, const std::string& flag) {
  std::vector<int> allowed = allowed_cpus();
  for (int cpu : cpus)
    if (std::find(allowed.begin(), allowed.end(), cpu) == allowed.end())
      return Status::error(flag + ": CPU " + std::to_string(cpu) + " is not one this process may run on (" +
                           cpu_list(allowed) + ")");
  return Status::fine();
}

Status run_on(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    return Status::error("cannot run on CPUs " + cpu_list(cpus) + ": " + std::strerror(errno));
  return Status::fine();
}

}  // namespace canary::rt
