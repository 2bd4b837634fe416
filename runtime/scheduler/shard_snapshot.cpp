// Snapshots, steps 1 and 2 (docs/runtime.md): every shard finds the same
// cuts in its unrolling; at one it issues nothing more until every instance
// before it has run here, then writes each partition group it holds and
// waits for the controller to say every partition is written. Making the
// files durable is the worker's, off this thread (worker/flusher.h).
#include <algorithm>

#include "scheduler/shard.h"
#include "store/snapshot.h"

namespace canary::rt {

bool Shard::pass_cut() {
  if (next_.cut <= resumed_through_) {
    cut_pending_ = false;
    written_.clear();
    return true;
  }
  if (window_.empty() && replays_.empty() && catch_ups_.empty()) write_snapshot();
  return false;
}

// Each partition group this shard holds, again after one arrives by
// migration. A dataset's partition that no task changed since this shard
// wrote it (or loaded it) at the last snapshot is that snapshot's file again.
void Shard::write_snapshot() {
  std::vector<GroupPartition> written;
  PartitionWrite file;
  for (int g = 0; g < plan_.groups; ++g)
    for (int i : mine_[g]) {
      if (!written_.insert({g, i}).second) continue;
      if (written.empty()) file.cut = cut_here();
      file.which = {GroupId(g), PartitionIndex(i)};
      file.datasets.clear();
      for (int d : plan_.datasets_of_group[g])
        file.datasets.push_back({DatasetId(d), done_[d][i], saved_in_[d][i]});
      file.serialize = [&](DatasetId d) { return env_.partitions.at(d.value(), i).bytes(); };
      Status stored = env_.config.snapshots->write(file);
      if (!stored.ok()) {  // the controller skips this snapshot, or ends the job (--snapshot-required)
        if (env_.config.on_snapshot) env_.config.on_snapshot(next_.cut, written, stored.why());
        return;
      }
      for (const PartitionWrite::Dataset& d : file.datasets) saved_in_[d.dataset.value()][i] = next_.cut;
      written.push_back(file.which);
    }
  if (!written.empty() && env_.config.on_snapshot) env_.config.on_snapshot(next_.cut, written, "");
}

Cut Shard::cut_here() const {
  Cut cut{next_.cut, next_.seq, {}};
  std::vector<std::pair<std::uint64_t, bool>> before;
  for (const auto& [seq, value] : signals_)
    if (seq < next_.seq) before.emplace_back(seq, value);
  std::sort(before.begin(), before.end());
  for (const auto& [seq, value] : before) cut.signals.push_back(value);
  return cut;
}

}  // namespace canary::rt
