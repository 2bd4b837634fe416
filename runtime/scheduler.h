// The worker's local scheduler (paper sections 4.1 to 4.3).
//
// Every compute thread is a shard: it owns some partitions of every
// co-location group, holds its own copy of the program's control state, and
// unrolls the static block structure into the same numbered sequence of stage
// instances as every other shard. For each partition it owns it counts the
// completed accesses (the paper's "last stage that touched it"), so a task is
// ready the moment each partition it touches has reached its turn. Shards
// share no scheduling state: what crosses partitions (scatter chunks with
// their end-of-scatter marker, reduction inputs, broadcast values, signal
// values) travels as one message per stage instance and destination shard.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace canary::rt {

class SnapshotStore;

// Collects t.output() values: per key, the value of each partition index.
// Of two values for one key and index, the one from the later stage
// instance (`seq`) wins, whichever worker ran it: partitions migrate.
class Outputs {
 public:
  explicit Outputs(const Program& program) : program_(program) {}
  void add(std::uint64_t seq, int stage, int index, const std::string& key, std::string json);
  // {key: value} as JSON text; a key made by a stage with more than one
  // partition becomes a list ordered by partition index.
  std::string to_json() const;

  struct Entry {
    std::string key;
    int stage;
    int index;
    std::uint64_t seq;
    std::string json;
  };
  // Every value, to hand to another Outputs (a worker's, to the controller's).
  std::vector<Entry> entries() const;

 private:
  struct Values {
    bool list = false;
    std::map<int, std::pair<std::uint64_t, std::string>> by_index;  // index -> (seq, json)
  };
  const Program& program_;
  mutable std::mutex mutex_;
  std::map<std::string, Values> values_;
  std::map<std::string, int> stage_of_;
};

struct RunStats {
  double elapsed_s = 0;
  std::uint64_t tasks = 0;
  std::uint64_t stage_instances = 0;  // as unrolled by one shard
  std::vector<std::uint64_t> tasks_per_thread;
  // CPU time the compute threads spent outside task bodies (scheduling,
  // messaging) and inside them.
  double scheduler_cpu_s = 0;
  double task_cpu_s = 0;
};

// What crosses partitions, between shards and between workers: one message
// per stage instance and destination, never one per task.
struct Message {
  enum class Kind { Chunks, ReduceInput, BroadcastValue, Signal };
  Message(Kind k, std::uint64_t s, int st, int from = 0) : kind(k), seq(s), stage(st), sender(from) {}
  Kind kind;
  std::uint64_t seq;            // the stage instance it belongs to; every shard numbers them alike
  int stage;                    // that instance's stage
  int sender;                   // the sending task's partition index
  std::vector<int> iterations;  // of the loops around the stage, outermost first
  // The destination partitions the message is for, each with the version of
  // the sender's map entry for it. Chunks: every partition the sender
  // believes the receiver holds, with the (maybe empty) values for it, so the
  // receiver knows that sender is done with it; ReduceInput: partition 0 of
  // the result; BroadcastValue: the partitions to copy the value into.
  struct Part {
    int partition;
    std::uint64_t version;
    std::string bytes;
  };
  std::vector<Part> parts;
  std::string value;    // ReduceInput, BroadcastValue
  bool signal = false;  // Signal
};

// Which worker holds partition i of each co-location group, and since
// which version of that entry: versions only go up, so of two views of an
// entry the one with the higher version is the newer.
struct PartitionMap {
  std::vector<std::vector<int>> owner;              // [group][partition] -> worker
  std::vector<std::vector<std::uint64_t>> version;  // [group][partition]

  // Every partition on one worker, at version 1.
  static PartitionMap single(const Program& program, const std::vector<int>& dataset_partitions);
};

// Partition i of every dataset of a co-location group, on its way from one
// worker to another (migration, step 3).
struct Handover {
  int group = 0;
  int partition = 0;
  std::uint64_t version = 0;  // of the map entry that names the receiver
  struct Dataset {
    int dataset;
    std::uint64_t accesses;  // completed: how far the partition got (the paper's "last stage")
    std::string bytes;       // the serialized partition
  };
  std::vector<Dataset> datasets;  // every dataset of the group
  // What had arrived for the partitions and was not used yet: chunks,
  // reduction inputs, broadcast values.
  std::vector<Message> pending;
};

// How a worker's scheduler reaches the other workers. Called from compute
// threads concurrently.
class Peers {
 public:
  virtual ~Peers() = default;
  virtual void send(int worker, const Message& m) = 0;
  virtual void hand_over(int worker, const Handover& h) = 0;
};

// Central dispatch (controller --dispatch=central): the baseline the
// architecture is measured against, in which a central scheduler launches
// every task, as Spark's driver does. A task is named by its stage instance
// and its slot there (its partition index, or the instance's main task
// count for a reduce's, broadcast's or signal's single task).
struct TaskId {
  std::uint64_t seq;
  int slot;
};
// How a worker's shards reach the central scheduler: after every task, the
// task finished (if any) and those it made ready, which wait here until
// LocalScheduler::launch(). Called from compute threads concurrently.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual void report(int shard, const std::vector<TaskId>& finished, const std::vector<TaskId>& ready) = 0;
};

// The tasks run on one partition group here so far, and their CPU time.
struct GroupLoad {
  int group;
  int partition;
  std::uint64_t tasks;
  double cpu_s;
};

// How far a stage has got on a worker, for people watching (the
// controller's progress line and --http): its newest run (stage instance)
// in which a task finished, and how many of that run's tasks finished. The
// tasks that count are one per partition (a signal's one task; not a
// reduce's combine, nor a broadcast's send), as the graph's `partitions`.
struct StageProgress {
  int stage;
  std::uint64_t run;  // the instance's number plus one; 0: nothing finished yet
  int iteration;      // of the outermost loop around the stage, from 0; -1 outside loops
  int done;

  // Folds in another shard's or worker's view of the same stage: the newer
  // run is the stage's, and the tasks of one run add up.
  void add(const StageProgress& other) {
    if (other.run > run)
      *this = other;
    else if (other.run == run && run > 0)
      done += other.done;
  }
};

// How many of a run's tasks count for StageProgress, per stage, given each
// dataset's partition count.
std::vector<int> tasks_per_run(const Program& program, const std::vector<int>& dataset_partitions);

struct RunConfig {
  int threads = 1;
  // How many unfinished stage instances a shard may have issued.
  int window = 64;
  int worker = 0;                     // this worker's number in `map`
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
  // there, says so through `on_snapshot` (from its compute thread), and goes
  // on once resume() says the snapshot is complete.
  const SnapshotStore* snapshots = nullptr;
  int snapshot_every = 0;
  std::function<void(int snapshot, const std::vector<std::pair<int, int>>& written)> on_snapshot;
  // Where the run starts: 0 at the program's start; k > 0 at the cut of
  // snapshot k, whose files hold this worker's partitions (a rollback).
  int start_at = 0;
  // Non-null: central dispatch. No migrations or snapshots then.
  Dispatcher* central = nullptr;
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
  // Hands over a message from another worker; thread-safe. Parts for
  // partitions held elsewhere are forwarded, or held until this worker's map
  // catches up with the sender's. Returns why the message was refused
  // (partitions that do not exist, say), or "".
  std::string deliver(Message m);
  // A newer view of the map; thread-safe. Entries may move partitions to
  // this worker (they arrive by hand_over), not away from it (migrate()).
  std::string update_map(const PartitionMap& map);
  // Migration, steps 2 and 3 on the source: partition `partition` of
  // `group` stops here and is handed over to worker `to`, whose map entry
  // for it is now at `version`. Returns why not, or "".
  std::string migrate(int group, int partition, int to, std::uint64_t version);
  // Migration, step 4 on the destination: installs handed-over partitions.
  // Returns why they were refused, or "".
  std::string adopt(Handover h);
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
  // Returns why not, or "".
  std::string launch(int shard, std::vector<TaskId> tasks);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace canary::rt
