// The worker's local scheduler (paper sections 4.1 to 4.3): the facade the
// worker process (worker/) and --in-process drive.
//
// Every compute thread is a shard (scheduler/shard.h): it owns some
// partitions of every co-location group, unrolls the program (unroller.h)
// into the same numbered sequence of stage instances as every other shard,
// and runs a task the moment each partition it touches has reached its
// turn. What crosses partitions travels as one message per stage instance
// and destination, through the router (router.h), which applies the
// paper's receive rule. Shards share no scheduling state.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/messages.h"
#include "core/outputs.h"
#include "core/partition_map.h"
#include "core/result.h"
#include "scheduler/router.h"

namespace canary::rt {

class SnapshotStore;

// Central dispatch (controller --dispatch=central), the baseline the
// architecture is measured against, in which a central scheduler launches
// every task, as Spark's driver does: after every task, the shard reports
// the task it finished (if any) and those it made ready, which wait until
// LocalScheduler::launch(). Called from compute threads concurrently.
class CentralDispatch {
 public:
  virtual ~CentralDispatch() = default;
  virtual void report(int shard, const std::vector<TaskId>& finished, const std::vector<TaskId>& ready) = 0;
};

struct RunConfig {
  int threads = 1;
  // Compute thread i runs on CPU cpus[i % cpus.size()] alone; empty: wherever
  // the kernel puts it.
  std::vector<int> cpus;
  // How many unfinished stage instances a shard may have issued.
  int window = 64;
  WorkerId worker{0};                 // this worker's number in `map`
  int workers = 1;                    // how many there are: every one hears every signal
  const PartitionMap* map = nullptr;  // null: this worker holds everything
  Peers* peers = nullptr;             // needed when the map spreads partitions over workers
  // Tests and experiments: every task body takes this many times as long
  // (the rest spent busy-waiting), to make a straggler on one machine.
  double slowdown = 1;
  // A worker of a cluster keeps its shards when its part is done, since a
  // partition may still migrate here, until end(); otherwise run() returns
  // as soon as every shard is done.
  bool until_ended = false;
  // Called from a compute thread when the scheduler may have become idle().
  std::function<void()> on_idle;
  // Snapshots (paper section 3.3): with a store, every shard stops where an
  // iteration of an outermost loop begins whose number is a multiple of
  // `snapshot_every` (the snapshot's cut), writes the partitions it holds
  // there (not yet durably: SnapshotStore::flush is the caller's), says so
  // through `on_snapshot` (from its compute thread), and goes on once
  // resume() says every partition is written (or the snapshot skipped). A
  // file it cannot write ends its part of the snapshot: `error` says why.
  const SnapshotStore* snapshots = nullptr;
  int snapshot_every = 0;
  std::function<void(int snapshot, const std::vector<GroupPartition>& written, const std::string& error)>
      on_snapshot;
  // Where the run starts: 0 at the program's start; k > 0 at the cut of
  // snapshot k, whose files hold this worker's partitions (a rollback).
  int start_at = 0;
  // Non-null: central dispatch. No migrations or snapshots then.
  CentralDispatch* central = nullptr;
};

class LocalScheduler {
 public:
  // Throws std::runtime_error when the partition map does not fit the
  // program, or a snapshot to start from cannot be read.
  LocalScheduler(const Program& program, const void* params, RunConfig config, Outputs& outputs);
  ~LocalScheduler();
  LocalScheduler(const LocalScheduler&) = delete;
  LocalScheduler& operator=(const LocalScheduler&) = delete;

  // Runs this worker's part of the job to its end (see `until_ended`).
  // Throws std::runtime_error when a task fails or `stop` was called.
  RunStats run();
  // Statistics so far; thread-safe.
  RunStats stats() const;
  // Hands over a message from another worker; thread-safe. Refused (why)
  // when it names partitions that do not exist, say.
  Status deliver(Message m);
  // A newer view of the map; thread-safe (Router::update()).
  Status update_map(const PartitionMap& map);
  // Migration, steps 2 and 3 on the source: `which` stops here and is handed
  // over to worker `to`, whose map entry for it is now at `version`.
  Status migrate(GroupPartition which, WorkerId to, Version version);
  // Migration, step 4 on the destination: installs handed-over partitions;
  // a malformed handover is refused whole.
  Status adopt(Handover h);
  // Whether every shard has run all it holds to the program's end, with no
  // handover being installed: a worker then reports Done.
  bool idle() const;
  // With `until_ended`: makes run() return once it is idle.
  void end();
  // CPU time per partition group held here, for load reports.
  std::vector<GroupLoad> group_loads() const;
  // Progress so far, readable while run() runs: tasks done, and seconds
  // spent in task bodies over all threads.
  std::uint64_t tasks_done() const;
  double busy_seconds() const;
  // Per stage, how far its newest run has got here; thread-safe.
  std::vector<StageProgress> stage_progress() const;
  // Message parts forwarded to their owner, and held for a newer map, so far.
  std::uint64_t forwarded() const;
  std::uint64_t held() const;
  // Makes run() give up with `reason`; thread-safe.
  void stop(const std::string& reason);
  // Snapshots up to `snapshot` are complete: shards stopped at its cut go on.
  void resume(int snapshot);
  // Central dispatch: runs these tasks, which `shard` reported ready.
  Status launch(int shard, std::vector<TaskId> tasks);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace canary::rt
