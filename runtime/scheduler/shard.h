// A shard: one compute thread of a worker, and the partitions it owns
// (paper section 4.1). It unrolls the program into stage instances, keeps
// for each partition it owns the completed accesses (the paper's "last
// stage that touched it"), and runs a task the moment each partition the
// task touches has reached its turn. Its hot loop takes what arrived in its
// inbox, issues instances, and runs ready tasks; Shard::execute() is one
// switch handing each kind of stage to its own function.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/outputs.h"
#include "core/partition.h"
#include "scheduler/fifo.h"
#include "scheduler/inbox.h"
#include "scheduler/local_scheduler.h"
#include "scheduler/plan.h"
#include "scheduler/router.h"
#include "scheduler/unroller.h"

namespace canary::rt {

// What a worker's shards share besides the partitions: whether to go on,
// how many messages are on their way, who waits, and who is done.
class Lifecycle {
 public:
  Lifecycle(int threads, bool lone, bool until_ended)
      : threads_(threads), lone_(lone), until_ended_(until_ended) {}

  // Makes every shard give up; the first reason is the one kept.
  void fail(const std::string& reason);
  std::string failure() const;
  // What a shard says of itself when it waits, wakes or finishes: if every
  // shard is waiting or done and no message is on its way, nothing can ever
  // happen again.
  enum class ShardIs { Waiting, Awake, Finished };
  void shard_is(ShardIs now);

  std::atomic<bool> stop{false}, ended{false};
  std::atomic<int> in_flight{0};         // messages queued for shards and not yet handled
  std::atomic<int> shards_at_end{0};     // with nothing left to run
  std::atomic<int> installs_pending{0};  // handovers adopted, not yet installed by their shard
  std::function<void()> wake_all;        // wakes every shard's inbox

 private:
  const int threads_;
  const bool lone_;  // the only worker: no message can come from elsewhere
  const bool until_ended_;
  mutable std::mutex mutex_;
  std::string failure_;
  int waiting_ = 0, finished_ = 0;
};

// [group][partition]: the tasks run on a partition group here and the TSC
// ticks they took, for load reports. Written by the holding shard only.
// Short tasks are timed only now and then (Shard::wants_timing); `ticks`
// counts the others at the average of those timed.
struct GroupWork {
  std::atomic<std::uint64_t> tasks{0}, ticks{0};
  std::uint64_t timed = 0, timed_ticks = 0, average_ticks = 0;  // read by the holding shard only
};
using GroupWorkTable = std::vector<std::vector<GroupWork>>;

// What a shard works with, set up once by LocalScheduler.
struct ShardEnvironment {
  const Plan& plan;
  const RunConfig& config;
  const StartPoint& start;
  PartitionTable& partitions;  // a partition is touched only by the shard holding it
  GroupWorkTable& work;
  Router& router;
  Outputs& outputs;
  Lifecycle& life;
};

class Shard {
 public:
  Shard(ShardEnvironment& env, int id);

  Inbox& inbox() { return inbox_; }
  // The shard's thread: runs until the job ends, fails or is stopped.
  void main_loop();

  std::uint64_t tasks() const { return tasks_.load(std::memory_order_relaxed); }
  // The thread's CPU time so far: read from its clock while it runs (load
  // reports ask from another thread), the final figure once it has ended.
  double thread_cpu_s() const;
  std::uint64_t body_ticks() const { return body_ticks_.load(std::memory_order_relaxed); }
  std::uint64_t stage_instances() const { return issued(); }
  // RunStats::unused_messages: what arrived and was not used, the last time
  // this shard had run everything it holds.
  std::uint64_t unused_at_end() const { return unused_at_end_.load(std::memory_order_relaxed); }
  // This shard's part of LocalScheduler::stage_progress().
  StageProgress stage_run(int stage) const;
  // The ticks the running task, if any, has taken so far on `work`'s
  // counters: load reports count a task as it goes, so that a long one is no
  // idle time. Read from another thread, the pair may be a task apart.
  std::uint64_t running_ticks(const GroupWork& work, std::uint64_t now) const;

 private:
  enum Slot : std::uint8_t { kAbsent, kWaiting, kSpawned, kDone };

  // One stage instance, as far as this shard is concerned: which of its
  // tasks are here, and which of those are done.
  struct Issued : StageInstance {
    int main_tasks = 0;               // over all shards
    std::vector<std::uint8_t> slots;  // Slot, by partition, then the single task (main_tasks)
    std::vector<int> local;           // the slots of the tasks here
    int tasks_total = 0;              // here
    int tasks_done = 0;
    bool replay = false;  // made again for a partition that arrived late (see install())
    // Copied from the plan when issued, so that a task's way through the
    // shard reads this instance and not the stage's tables.
    StageKind kind = StageKind::Transform;
    bool waits = false;          // for messages (KindFacts::waits_for_messages)
    std::size_t main_turns = 0;  // positions[0, main_turns): the main tasks' datasets; the rest the single's
    GroupWork* main_work = nullptr;  // [partition]: the main tasks' group's load counters
    GroupWork* single_work = nullptr;

    bool complete() const { return tasks_done == tasks_total; }
    bool single(int slot) const { return slot == main_tasks; }
    int index(int slot) const { return single(slot) ? 0 : slot; }
    // The (dataset, turn) pairs the task in `slot` waits for and advances.
    const std::pair<int, std::uint64_t>* turns_begin(int slot) const {
      return positions.data() + (single(slot) ? main_turns : 0);
    }
    const std::pair<int, std::uint64_t>* turns_end(int slot) const {
      return positions.data() + (single(slot) ? positions.size() : main_turns);
    }
    GroupWork& work(int slot) const { return single(slot) ? *single_work : main_work[slot]; }
  };
  struct TaskRef {
    Issued* instance;
    int slot;
  };
  // What arrived for one stage instance (keyed by its sequence number, a
  // gather's by its scatter's).
  struct Inbound {
    StageId stage{-1};                                         // of the messages
    std::map<int, std::vector<std::pair<int, Bytes>>> chunks;  // partition -> (sender, values)
    std::vector<std::pair<int, Bytes>> inputs;                 // reduce: (sender, value)
    Bytes value;                                               // broadcast
    bool has_value = false;
  };
  // What the running task reaches: its t.output() values go to the job's
  // Outputs, with the instance's number so that the latest value wins.
  struct HostOf : detail::TaskHost {
    void add(int stage, int index, const std::string& key, std::string json) override {
      outputs->add({key, StageId(stage), index, Seq(in->seq), std::move(json)});
    }
    std::uint64_t seed(int index) const override {
      return task_seed(plan->stage_hash[in->stage.value()], index, in->iterations);
    }
    Outputs* outputs = nullptr;
    const Plan* plan = nullptr;
    const Issued* in = nullptr;
  };
  // A scatter task's sends, one buffer per destination partition, and the
  // runs attached to it.
  struct RowSink : detail::ChunkSink {
    explicit RowSink(int partitions) : row(partitions) {}
    std::string* buffer(int destination) override {
      return destination >= 0 && destination < static_cast<int>(row.size()) ? &row[destination] : nullptr;
    }
    void attach(int destination, std::shared_ptr<const void> keeper, const char* data,
                std::size_t size) override {
      if (attached.empty()) attached.resize(row.size());
      std::vector<Bytes>& runs = attached[destination];
      if (!row[destination].empty()) runs.emplace_back(std::exchange(row[destination], {}));
      runs.emplace_back(std::move(keeper), std::string_view(data, size));
    }
    void sent(int) override {}
    // Everything sent to `destination`, in order.
    Bytes take(int destination) {
      if (attached.empty() || attached[destination].empty()) return Bytes(std::move(row[destination]));
      if (!row[destination].empty()) attached[destination].emplace_back(std::move(row[destination]));
      return Bytes::joined(attached[destination]);
    }
    std::vector<std::string> row;
    std::vector<std::vector<Bytes>> attached;  // by destination; empty until a run is attached
  };

  // The hot loop, chosen once per shard: tasks run here as soon as they are
  // ready, or (central dispatch) wait for the controller to launch them; a
  // slowed shard (tests) stretches every task.
  template <class Policy>
  void loop();
  template <class Policy>
  void run(TaskRef t);
  bool finished() const { return unrolled_ && window_.empty() && replays_.empty() && catch_ups_.empty(); }
  void set_at_end(bool at_end);

  // Issuing (shard.cpp).
  void unroll();
  std::uint64_t issued() const { return unroller_.issued() - (cut_pending_ ? 1 : 0); }
  std::unique_ptr<Issued> make_issued(const StageInstance& instance);
  void issue(const StageInstance& instance);
  void add_slot(Issued* in, int slot);
  std::uint64_t inbound_key(const Issued* in) const;
  // Whether every partition the task touches has reached its turn, and
  // what the task waits for (chunks, inputs, a value) has arrived. Here, so
  // that the checks every task goes through twice are inlined.
  bool ready(const Issued* in, int slot) const {
    int index = in->index(slot);
    for (auto turn = in->turns_begin(slot); turn != in->turns_end(slot); ++turn)
      if (done_[turn->first][index] != turn->second) return false;
    return !in->waits || arrived(in, slot);
  }
  bool arrived(const Issued* in, int slot) const;
  void try_spawn(Issued* in, int slot) {
    if (in->slots[slot] == kWaiting && ready(in, slot)) spawn(in, slot);
  }
  void spawn(Issued* in, int slot);
  Issued* instance_at(int d, std::uint64_t position);

  // Running and completing tasks (shard.cpp).
  bool wants_timing(const GroupWork& work) const;
  std::uint64_t body_starts();
  std::uint64_t body_ends(std::uint64_t start) const;
  std::uint64_t execute(Issued* in, int slot);
  std::uint64_t transform(Issued* in, Task& task);
  std::uint64_t scatter(Issued* in, Task& task);
  std::uint64_t gather(Issued* in, Task& task);
  std::uint64_t reduce(Issued* in, int slot, Task& task);
  std::uint64_t broadcast(Issued* in, int slot);
  std::uint64_t signal(Issued* in, Task& task);
  void complete(Issued* in, int slot);
  void count_run(const Issued& in);
  void advance(int d, int index);
  void retire();

  // Messages, migrations and central dispatch (shard_moves.cpp).
  void handle(Item item);
  void handle(Message m);
  template <class Use>
  void for_slots_on(const StageInstance& instance, int g, int i, Use&& use) const;
  void release(const Release& r);
  void drop_slot(Issued* in, int slot);
  void take_pending(std::uint64_t key, Inbound& inbound, int g, int i, Version version,
                    std::vector<Message>& out);
  void install(Install x);
  void add_tasks_on(Issued* in, int g, int i);
  bool yet_to_run(const StageInstance& instance, int g, int i) const;
  void catch_up();
  Issued* replay_of(const StageInstance& instance);
  void retire_replay(Issued* in);
  void forget_inbound(const Issued* in);
  std::optional<std::uint64_t> retired_instance(std::uint64_t key, const Inbound& inbound) const;
  void forget_inbound_no_one_needs();
  bool no_one_needs(std::uint64_t key, const Inbound& inbound) const;
  void forget_unawaited(std::uint64_t key);
  void hold_for_launch();
  void launch(const Launch& l);
  void report_to_central(const std::vector<TaskId>& finished);

  // Snapshots (shard_snapshot.cpp).
  bool pass_cut();
  void write_snapshot();
  Cut cut_here() const;

  const int id_;
  ShardEnvironment& env_;
  const Plan& plan_;
  const Program& program_;
  Inbox inbox_;

  Unroller unroller_;
  StageInstance next_;                 // reused by unroll()
  bool unrolled_ = false;              // to the program's end
  std::vector<Unroller> checkpoints_;  // the unroller every kCheckpointEvery instances, from the start
  std::unordered_map<std::uint64_t, bool> signals_;  // every signal's value, by seq
  bool cut_pending_ = false;                         // next_ follows a cut this shard has not passed
  std::vector<std::vector<int>> saved_in_;  // [dataset][partition]: the snapshot holding it as it is; 0: none
  int resumed_through_;                     // snapshots known to be complete
  std::set<std::pair<int, int>> written_;   // (group, partition) written at the pending cut
  int unfinished_ = 0;                      // issued instances with local tasks left
  bool at_end_ = false;

  std::vector<std::vector<std::uint8_t>> held_;   // [group][partition]: held by this shard
  std::vector<std::vector<int>> mine_;            // [group]: the partitions held, ascending
  std::vector<std::vector<std::uint64_t>> done_;  // [dataset][partition]: accesses completed (held ones)
  // The issued instances that access one dataset and are not yet retired,
  // by access number.
  class Accesses {
   public:
    explicit Accesses(std::uint64_t first) : first_(first) {}
    void push_back(Issued* in) { log_.push_back(in); }
    void pop_front() {
      log_.pop_front();
      ++first_;
    }
    std::uint64_t first() const { return first_; }  // the access number of the front
    // The instance at access `position` >= first(), or null if not issued yet.
    Issued* at(std::uint64_t position) const {
      std::uint64_t i = position - first_;
      return i < log_.size() ? log_[i] : nullptr;
    }

   private:
    Fifo<Issued*> log_;
    std::uint64_t first_;
  };
  std::vector<Accesses> accesses_;                // per dataset
  std::deque<std::unique_ptr<Issued>> window_;    // issued, not yet retired, in issue order
  std::vector<std::unique_ptr<Issued>> retired_;  // for make_issued to use again
  static constexpr std::size_t kRetiredKept = 64;
  std::map<std::uint64_t, std::unique_ptr<Issued>> replays_;    // made again by install(), by seq
  std::map<std::pair<int, std::uint64_t>, Issued*> replay_at_;  // (dataset, access number) -> replay
  // A partition that arrived behind the window (see install()): the
  // instances it has yet to run before the window's front, made again a
  // window's worth at a time as it runs them. Partitions that never wait
  // for each other drift millions of instances apart; making them all at
  // once took gigabytes and stopped the shard for seconds.
  struct CatchUp {
    int group, partition;
    Unroller cursor;      // the next instance to make again
    std::uint64_t until;  // the window's front when it arrived: the window has its tasks from there
    bool will_make(std::uint64_t seq) const { return cursor.issued() <= seq && seq < until; }
  };
  std::vector<CatchUp> catch_ups_;
  StageInstance caught_up_;  // reused by catch_up()
  // What arrived for a retired replay and is kept for a catch-up that makes
  // the instance again: inbound key -> the instance's seq.
  std::unordered_map<std::uint64_t, std::uint64_t> kept_for_catch_ups_;
  Fifo<TaskRef> ready_;
  std::unordered_map<std::uint64_t, Inbound> inbound_;
  std::unordered_map<std::uint64_t, Issued*> awaiting_;  // instances that wait for messages, by inbound key
  std::vector<void*> parts_;
  HostOf host_;

  // Central dispatch: tasks found ready and not yet reported, those reported
  // and not yet launched, and those launched.
  std::vector<TaskId> made_ready_;
  std::map<std::pair<std::uint64_t, int>, Issued*> launchable_;
  Fifo<TaskRef> launched_;

  // Written by this shard's thread only; atomic so load reports can read them.
  struct StageRun {
    std::atomic<std::uint64_t> run{0};  // the newest instance a task finished in, plus one (0: none)
    std::atomic<int> iteration{-1};
    std::atomic<int> done{0};  // of its tasks that count (see StageProgress)
  };
  std::vector<StageRun> stage_runs_;
  std::atomic<std::uint64_t> tasks_{0};
  std::atomic<std::uint64_t> body_ticks_{0};
  std::atomic<std::uint64_t> unused_at_end_{0};
  std::atomic<double> thread_cpu_s_{0};
  double cpu_start_ = 0;
  clockid_t cpu_clock_{};
  std::atomic<bool> running_{false};
  std::atomic<const GroupWork*> running_work_{nullptr};
  std::atomic<std::uint64_t> running_since_{0};  // 0: none
  bool timing_ = true;                           // whether the task running now is timed
};

}  // namespace canary::rt
