// Snapshots on durable storage (paper section 3.3, DESIGN.md section 6).
//
// A run's snapshots live in one directory (on a cluster, a shared
// filesystem): snapshot k is the subdirectory snapshot-k. For each partition
// group entry (partition i of every dataset of a co-location group) it holds
// gG-pI, how far each dataset got and the control state at the cut, and one
// file dD-pI per dataset with its bytes. A dataset unchanged since the
// previous snapshot is that snapshot's file, hard-linked: training data
// read-only after it is made is written once. Every file is written under a
// temporary name and renamed, and carries a CRC-32; flush() makes all of a
// snapshot's files durable at once. The controller marks a snapshot
// complete with a manifest, written the same way and fsynced, once every
// partition of it is durable; a snapshot without its manifest, or with a
// file that does not check out, is never loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "core/messages.h"
#include "core/outputs.h"
#include "core/result.h"

namespace canary::rt {

// Partition i of every dataset of a co-location group, as it was at `cut`.
struct PartitionFile {
  Cut cut;
  GroupPartition which;
  std::vector<PartitionBytes> datasets;  // every dataset of the group, in order
};

// What a shard writes of one partition group at a cut.
struct PartitionWrite {
  Cut cut;
  GroupPartition which;
  struct Dataset {
    DatasetId dataset;
    std::uint64_t accesses;
    int unchanged_since;  // > 0: its bytes are as in that snapshot's file
  };
  std::vector<Dataset> datasets;  // every dataset of the group, in order
  // The dataset's partition as bytes: for those not unchanged, and for
  // those whose earlier file cannot be linked.
  std::function<std::string(DatasetId dataset)> serialize;
};

// What resuming a run needs (--resume RUN_DIR), kept in the run's directory
// as RUN from the moment its workers start.
struct RunRecord {
  std::string job;
  std::uint64_t graph = 0;          // the stage graph's hash: which job binary wrote it
  std::vector<std::string> params;  // "name=value", the canary::automatic count included
  int snapshot_every = 10;          // where the cuts lie, hence what snapshot k is
};

// The controller of a run holds its LOCK for as long as it runs, so that a
// second controller (a --resume while the first still runs, or hangs) is
// refused instead of writing the same snapshots. An flock, which the kernel
// drops when its holder dies, however it dies; LOCK says who holds it.
class RunLock {
 public:
  static Result<RunLock> take(const std::string& dir);
  RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_;
};

class SnapshotStore {
 public:
  SnapshotStore(std::string dir, std::string job) : dir_(std::move(dir)), job_(std::move(job)) {}

  // Makes a fresh directory for one run of `job` under `parent` (created if
  // need be): its path.
  static Result<std::string> create_run_dir(const std::string& parent, const std::string& job);

  const std::string& dir() const { return dir_; }
  std::string path_of(int snapshot, GroupPartition which) const;
  std::string data_path_of(int snapshot, DatasetId dataset, PartitionIndex partition) const;

  // Writes without waiting for the disk; flush() is the one barrier for
  // all the files of a snapshot written by then (the worker's flusher
  // thread calls it after the shards report them written).
  Status write(const PartitionWrite& file) const;
  Status flush(int snapshot) const;
  Result<PartitionFile> read(int snapshot, GroupPartition which) const;

  // The controller's side: the manifest that makes snapshot k count, with
  // the outputs made before its cut (they outlive the controller too);
  // whether k is complete with every one of `partitions` intact; and
  // removing every snapshot older than the newest in `keep` but those in
  // it (newer ones are being written: workers go on before the manifest),
  // or all.
  Status mark_complete(int snapshot, std::size_t partitions,
                       const std::vector<Outputs::Entry>& outputs) const;
  Status verify(int snapshot, const std::vector<GroupPartition>& partitions) const;
  Result<std::vector<Outputs::Entry>> outputs_of(int snapshot) const;
  // The snapshots with a manifest, newest first.
  std::vector<int> marked_complete() const;
  Status write_run(const RunRecord& run) const;
  // Refuses, in one line, a directory without a readable RUN.
  static Result<RunRecord> read_run(const std::string& dir);
  void prune(const std::vector<int>& keep) const;
  void remove_all() const;

 private:
  std::string snapshot_dir(int snapshot) const;

  std::string dir_;
  std::string job_;
};

}  // namespace canary::rt
