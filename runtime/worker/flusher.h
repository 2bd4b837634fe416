// A worker's snapshot files made durable off its compute threads
// (snapshots, step 2, docs/runtime.md). A shard reports its files as soon
// as they are written, and the workers go on once every partition is; this
// thread's one syncfs then says they are on disk, and the controller writes
// the manifest once every partition is.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "store/snapshot.h"

namespace canary::rt {

class SnapshotFlusher {
 public:
  // Partitions of one snapshot, written in one epoch; once flushed, with
  // the error if the disk refused.
  struct Batch {
    SnapshotStore store;
    Epoch epoch;
    int snapshot = 0;
    std::vector<GroupPartition> partitions;
    std::string error;
  };

  // `flushed` is called (from the flusher's thread) after each syncfs.
  explicit SnapshotFlusher(std::function<void()> flushed);
  ~SnapshotFlusher();
  SnapshotFlusher(const SnapshotFlusher&) = delete;
  SnapshotFlusher& operator=(const SnapshotFlusher&) = delete;

  void flush(Batch written);
  // The batches on disk (or refused) since the last call.
  std::vector<Batch> take();

 private:
  void run();

  std::function<void()> flushed_;
  std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<Batch> waiting_;
  std::vector<Batch> done_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the rest is there
};

}  // namespace canary::rt
