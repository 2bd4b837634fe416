#include "scheduler/plan.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace canary::rt {

const KindFacts& facts_of(StageKind kind) {
  using K = Message::Kind;
  static const KindFacts facts[] = {
      /* Transform */ {false, false, std::nullopt},
      /* Scatter   */ {false, false, K::Chunks},
      /* Gather    */ {true, true, std::nullopt},
      /* Broadcast */ {true, false, K::BroadcastValue},
      /* Reduce    */ {true, false, K::ReduceInput},
      /* Signal    */ {false, false, K::Signal},
      /* Read      */ {false, false, std::nullopt},
      /* Write     */ {false, false, std::nullopt},
  };
  return facts[static_cast<int>(kind)];
}

Plan::Plan(const Program& p, const void* params) : program(p) {
  program.counts(params, partitions_of, loop_counts);
  for (std::size_t d = 0; d < program.datasets.size(); ++d) {
    if (partitions_of[d] < 1)
      throw std::runtime_error("dataset '" + program.datasets[d].name + "' would have " +
                               std::to_string(partitions_of[d]) + " partitions; it needs at least 1");
    groups = std::max(groups, program.group_of[d] + 1);
    datasets_of_group.resize(groups);
    datasets_of_group[program.group_of[d]].push_back(static_cast<int>(d));
  }
  for (const StageInfo& s : program.stages) stage_hash.push_back(stage_name_hash(s.name));
}

int Plan::target_dataset(StageId s) const {
  const StageInfo& info = stage(s);
  if (info.kind == StageKind::Scatter) return info.to;
  if (info.kind == StageKind::Signal || info.writes.empty()) return -1;
  return info.writes.front();
}

int Plan::main_tasks(StageId s) const {
  int d = stage(s).main_partitions_of();
  return d >= 0 ? partitions_of[d] : 0;
}

std::vector<int> tasks_per_run(const Program& program, const std::vector<int>& dataset_partitions) {
  std::vector<int> tasks;
  for (const StageInfo& s : program.stages) {
    int d = s.main_partitions_of();
    tasks.push_back(d >= 0 && d < static_cast<int>(dataset_partitions.size()) ? dataset_partitions[d] : 1);
  }
  return tasks;
}

}  // namespace canary::rt
