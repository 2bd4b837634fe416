// Snapshots on durable storage (paper section 3.3, DESIGN.md section 6).
//
// A run's snapshots live in one directory (on a cluster, a shared
// filesystem): snapshot k is the subdirectory snapshot-k. For each partition
// group entry (partition i of every dataset of a co-location group) it holds
// gG-pI, how far each dataset got and the control state at the cut, and one
// file dD-pI per dataset with its bytes. A dataset unchanged since the
// previous snapshot is that snapshot's file, hard-linked: training data
// read-only after it is made is written once. Every file is written under a
// temporary name, fsynced and renamed, and carries a CRC-32. The controller
// marks a snapshot complete with a manifest, written the same way, once
// every partition of it is written; a snapshot without its manifest, or with
// a file that does not check out, is never loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "scheduler.h"

namespace canary::rt {

// Where a snapshot cuts the run: every stage instance before `seq` is
// complete on every partition, none from `seq` on has started.
struct Cut {
  int snapshot = 0;           // the k-th cut of the run; 0: its start, which needs no files
  std::uint64_t seq = 0;      // the first stage instance after the cut
  std::vector<bool> signals;  // the values of the signal instances before it, in order
};

// Partition `partition` of every dataset of co-location group `group`, as it
// was at `cut`.
struct PartitionFile {
  Cut cut;
  int group = 0;
  int partition = 0;
  std::vector<Handover::Dataset> datasets;  // every dataset of the group, in order
};

// What a shard writes of one partition group entry at a cut.
struct PartitionWrite {
  Cut cut;
  int group = 0;
  int partition = 0;
  struct Dataset {
    int dataset;
    std::uint64_t accesses;
    int unchanged_since;  // > 0: its bytes are as in that snapshot's file
  };
  std::vector<Dataset> datasets;  // every dataset of the group, in order
  // The dataset's partition as bytes: for those not unchanged, and for
  // those whose earlier file cannot be linked.
  std::function<std::string(int dataset)> serialize;
};

using GroupPartition = std::pair<int, int>;  // (co-location group, partition)

class SnapshotStore {
 public:
  SnapshotStore(std::string dir, std::string job) : dir_(std::move(dir)), job_(std::move(job)) {}

  // Makes a fresh directory for one run of `job` under `parent` (created if
  // need be) and returns its path in `out`; returns an error or "".
  static std::string create_run_dir(const std::string& parent, const std::string& job, std::string& out);

  const std::string& dir() const { return dir_; }
  std::string path_of(int snapshot, int group, int partition) const;
  std::string data_path_of(int snapshot, int dataset, int partition) const;

  // Both return an error, or "" when all went well.
  std::string write(const PartitionWrite& file) const;
  std::string read(int snapshot, int group, int partition, PartitionFile& out) const;

  // The controller's side: the manifest that makes snapshot k count; whether
  // k is complete with every one of `partitions` intact (an error says why
  // not); and removing every snapshot but those in `keep`, or all.
  std::string mark_complete(int snapshot, std::size_t partitions) const;
  std::string verify(int snapshot, const std::vector<GroupPartition>& partitions) const;
  void prune(const std::vector<int>& keep) const;
  void remove_all() const;

 private:
  std::string snapshot_dir(int snapshot) const;

  std::string dir_;
  std::string job_;
};

}  // namespace canary::rt
