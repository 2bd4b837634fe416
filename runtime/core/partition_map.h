// The partition map (paper section 3.2): which worker holds partition i of
// each co-location group, and since which version of that entry. Versions
// only go up, so of two views of an entry the one with the higher version is
// the newer: that is what lets workers forward or hold data sent by a map
// older or newer than theirs. The controller decides the map; these are the
// decisions, kept free of sockets.
#pragma once

#include <canary/program.h>

#include <vector>

#include "core/ids.h"

namespace canary::rt {

struct PartitionMap {
  std::vector<std::vector<WorkerId>> owner;   // [group][partition]
  std::vector<std::vector<Version>> version;  // [group][partition]

  WorkerId owner_of(GroupPartition p) const { return owner[p.group.value()][p.partition.value()]; }
  Version version_of(GroupPartition p) const { return version[p.group.value()][p.partition.value()]; }
  int groups() const { return static_cast<int>(owner.size()); }
  int partitions(GroupId g) const { return static_cast<int>(owner[g.value()].size()); }
  std::size_t entries() const;

  // Every partition on one worker, at version 1.
  static PartitionMap single(const Program& program, const std::vector<int>& dataset_partitions);
};

// The map a job starts with: the partitions of every co-location group, as
// the parameters make them, spread over the workers in proportion to their
// compute threads (partition i of a group stays whole), every entry at
// version 1.
PartitionMap initial_map(const Program& program, const void* params,
                         const std::vector<int>& threads_per_worker);

// Recovery and joining: `map` with every partition of a worker that has no
// threads (a lost one) given to another, then partitions moved one at a
// time from the most loaded worker (per thread) to the least loaded one
// while that evens them out. Every entry that changes goes up a version.
PartitionMap rebalanced(PartitionMap map, const std::vector<int>& threads_per_worker);

}  // namespace canary::rt
