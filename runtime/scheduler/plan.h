// The job as every shard of a worker schedules it: the program canaryc
// generated, what the job's parameters make of it (partition and loop
// counts), and what each kind of stage means to the scheduler, in one table.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "core/ids.h"
#include "core/messages.h"

namespace canary::rt {

// What the scheduler must know of a kind of stage beyond the datasets its
// tasks touch (those are per stage, from canaryc): adding a kind of stage
// is a row here and a case in Shard::execute().
struct KindFacts {
  // Some of its tasks need what other tasks send them (gather: the
  // scatter's chunks; reduce: the inputs; broadcast: the value).
  bool waits_for_messages;
  // What it waits for is filed under its scatter's instance, not its own.
  bool keyed_by_source;
  // The messages its tasks send, if any: a message of another kind for
  // one of its instances is refused.
  std::optional<Message::Kind> sends;
};
const KindFacts& facts_of(StageKind kind);

struct Plan {
  // Throws std::runtime_error when the parameters give a dataset fewer than one partition.
  Plan(const Program& program, const void* params);

  const StageInfo& stage(StageId s) const { return program.stages[s.value()]; }
  const KindFacts& facts(StageId s) const { return facts_of(stage(s).kind); }
  // The dataset a stage's messages carry partitions of: a scatter's
  // destination, a reduce's result, a broadcast's copies (-1: a signal's,
  // which every shard hears).
  int target_dataset(StageId s) const;
  // How many main tasks a stage has over all shards: also its single task's slot.
  int main_tasks(StageId s) const;

  const Program& program;
  std::vector<int> partitions_of;  // per dataset
  std::vector<int> loop_counts;    // per block
  std::vector<std::uint64_t> stage_hash;
  int groups = 0;
  std::vector<std::vector<int>> datasets_of_group;  // per co-location group, ascending
  int snapshot_every = 0;                           // 0: no snapshots
};

// How many of a run's tasks count for StageProgress, per stage, given each
// dataset's partition count.
std::vector<int> tasks_per_run(const Program& program, const std::vector<int>& dataset_partitions);

}  // namespace canary::rt
