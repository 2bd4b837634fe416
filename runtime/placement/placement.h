// Placement: where a worker's threads run. The machine's NUMA nodes and
// their cores come from hwloc (which honours HWLOC_SYNTHETIC and
// HWLOC_XMLFILE, so tests can stand a 2-node topology in for this one);
// a worker given a node or a CPU list pins each compute thread to one of
// its CPUs and the rest of the process to all of them, so that a thread's
// partitions, which it touches first, live in its node's memory.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace canary::rt {

struct NumaNode {
  int index = 0;          // the node's number, as `--numa-node` takes it
  std::vector<int> cpus;  // one CPU (the first hardware thread) per core, in order
};

// The machine's NUMA nodes; a machine hwloc sees none on is one node of all
// its cores.
Result<std::vector<NumaNode>> numa_nodes();

// "0-3,8,10-11" as CPU numbers, in order, each once; the error names `flag`.
Result<std::vector<int>> parse_cpu_list(const std::string& flag, const std::string& list);
// The CPU list of `cpus`, as /proc shows one: "0-3,8".
std::string cpu_list(const std::vector<int>& cpus);

// The CPUs a worker's compute threads run on for `--numa-node` (`node` >= 0)
// or `--cpus`, checked against the CPUs this process may run on; none for
// neither. The error says what the machine has.
Result<std::vector<int>> worker_cpus(int node, const std::string& cpus);

// An error naming `flag` unless this process may run on every one of `cpus`.
Status check_runnable(const std::vector<int>& cpus, const std::string& flag);

// Restricts the calling thread (and the threads it starts from now on) to `cpus`.
Status run_on(const std::vector<int>& cpus);

}  // namespace canary::rt
