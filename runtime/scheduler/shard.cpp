// The shard's hot path: its loop, issuing instances, readiness, running a
// task and completing it. Messages, migrations and central dispatch are in
// shard_moves.cpp, snapshots in shard_snapshot.cpp.
#include "scheduler/shard.h"

#include <pthread.h>
#include <x86intrin.h>

#include <algorithm>

#include "core/clock.h"

namespace canary::rt {

void Lifecycle::fail(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure_.empty()) failure_ = reason;
  }
  stop = true;
  wake_all();
}

std::string Lifecycle::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

void Lifecycle::shard_is(ShardIs now) {
  std::lock_guard<std::mutex> lock(mutex_);
  waiting_ += now == ShardIs::Waiting ? 1 : now == ShardIs::Awake ? -1 : 0;
  finished_ += now == ShardIs::Finished ? 1 : 0;
  // With other workers, a message may always still come from them.
  if (lone_ && finished_ < threads_ && waiting_ + finished_ == threads_ && in_flight.load() == 0 &&
      !until_ended_) {
    if (failure_.empty()) failure_ = "internal error: every shard is waiting and no message is on its way";
    stop = true;
    wake_all();
  }
  if (finished_ == threads_) wake_all();
}

Shard::Shard(ShardEnvironment& env, int id)
    : id_(id),
      env_(env),
      plan_(env.plan),
      program_(env.plan.program),
      unroller_(env.start.unroller),
      checkpoints_(env.start.checkpoints),
      signals_(env.start.signals),
      resumed_through_(env.start.snapshot),
      stage_runs_(env.plan.program.stages.size()) {
  host_.outputs = &env.outputs;
  host_.plan = &plan_;
  auto r = env.router.routing();
  for (int g = 0; g < plan_.groups; ++g) {
    held_.emplace_back(r->shard[g].size(), 0);
    mine_.emplace_back();
    for (int i = 0; i < static_cast<int>(r->shard[g].size()); ++i)
      if (r->shard[g][i] == id) {
        held_[g][i] = 1;
        mine_[g].push_back(i);
      }
  }
  // Every partition starts where the run does: at the program's start, or
  // at a snapshot's cut, having been through every instance before it.
  for (std::size_t d = 0; d < program_.datasets.size(); ++d) {
    saved_in_.emplace_back(plan_.partitions_of[d], env.start.snapshot);
    done_.emplace_back(plan_.partitions_of[d], unroller_.accesses(static_cast<int>(d)));
    accesses_.emplace_back(unroller_.accesses(static_cast<int>(d)));
  }
}

// --- the loop -----------------------------------------------------------------

// How a task goes, chosen once per shard (no branch per task for what a run
// does not use).
struct Direct {  // runs what is ready, as it becomes ready
  static constexpr bool kCentral = false;
  static constexpr bool kSlowed = false;
};
struct Slowed {  // the same, every task stretched (--slowdown, tests)
  static constexpr bool kCentral = false;
  static constexpr bool kSlowed = true;
};
struct Central {  // reports what is ready and runs what the controller launches
  static constexpr bool kCentral = true;
  static constexpr bool kSlowed = false;
};

void Shard::main_loop() {
  cpu_start_ = thread_cpu_seconds();
  running_ = pthread_getcpuclockid(pthread_self(), &cpu_clock_) == 0;
  try {
    if (env_.config.central) {
      loop<Central>();
    } else if (env_.config.slowdown > 1) {
      loop<Slowed>();
    } else {
      loop<Direct>();
    }
  } catch (const std::exception& e) {
    env_.life.fail(e.what());
  }
  thread_cpu_s_ = thread_cpu_seconds() - cpu_start_;
  running_ = false;
}

double Shard::thread_cpu_s() const {
  // The thread may end between the two reads: its clock then fails.
  double now = 0;
  if (running_ && read_cpu_seconds(cpu_clock_, now)) return now - cpu_start_;
  return thread_cpu_s_.load(std::memory_order_relaxed);
}

template <class Policy>
void Shard::loop() {
  Lifecycle& life = env_.life;
  Fifo<TaskRef>& runnable = Policy::kCentral ? launched_ : ready_;
  while (!life.stop) {
    if (inbox_.has_messages()) {
      for (Item& item : inbox_.take()) {
        handle(std::move(item));
        --life.in_flight;
      }
    }
    unroll();
    if (!catch_ups_.empty()) catch_up();
    if constexpr (Policy::kCentral) {
      hold_for_launch();
      if (!made_ready_.empty()) report_to_central({});
    }
    if (!runnable.empty()) {
      TaskRef t = runnable.front();
      runnable.pop_front();
      TaskId ran{Seq(t.instance->seq), t.slot};  // running it may retire its instance
      run<Policy>(t);
      if constexpr (Policy::kCentral) {  // one report per task: what it finished and made ready
        hold_for_launch();
        report_to_central({ran});
      }
      continue;
    }
    if (finished()) {
      unused_at_end_.store(inbound_.size(), std::memory_order_relaxed);
      if (!env_.config.until_ended) {
        life.shard_is(Lifecycle::ShardIs::Finished);
        return;
      }
      set_at_end(true);
      if (life.ended) return;
    }
    life.shard_is(Lifecycle::ShardIs::Waiting);
    inbox_.wait(life.stop, life.ended);
    life.shard_is(Lifecycle::ShardIs::Awake);
  }
}

void Shard::set_at_end(bool at_end) {
  if (at_end == at_end_) return;
  at_end_ = at_end;
  if (at_end) thread_cpu_s_ = thread_cpu_seconds() - cpu_start_;
  if ((env_.life.shards_at_end += at_end ? 1 : -1) == env_.config.threads && env_.config.on_idle)
    env_.config.on_idle();
}

// --- issuing --------------------------------------------------------------------

// Issues stage instances until the window is full, a signal must be waited
// for, a snapshot's cut is reached, or the program ends. Inline: the hot
// loop calls it on every turn, and most turns find the window full.
inline void Shard::unroll() {
  while (!unrolled_ && unfinished_ < env_.config.window) {
    if (!cut_pending_) {
      Unroller::Next next = unroller_.next(next_, signals_);
      if (next == Unroller::Next::Signal) return;
      if (next == Unroller::Next::End) {
        unrolled_ = true;
        return;
      }
      if (unroller_.issued() % kCheckpointEvery == 0) checkpoints_.push_back(unroller_);
      cut_pending_ = next_.cut > resumed_through_;
    }
    if (cut_pending_ && !pass_cut()) return;
    issue(next_);
  }
}

// A retired instance is used again when there is one: assigning into its
// vectors keeps their memory, so issuing allocates nothing once the window
// has filled.
std::unique_ptr<Shard::Issued> Shard::make_issued(const StageInstance& instance) {
  std::unique_ptr<Issued> in;
  if (retired_.empty()) {
    in = std::make_unique<Issued>();
  } else {
    in = std::move(retired_.back());
    retired_.pop_back();
    in->local.clear();
    in->tasks_total = in->tasks_done = 0;
    in->replay = false;
  }
  static_cast<StageInstance&>(*in) = instance;
  const StageInfo& s = plan_.stage(in->stage);
  in->main_tasks = plan_.main_tasks(in->stage);
  in->slots.assign(in->main_tasks + 1, kAbsent);
  in->kind = s.kind;
  in->waits = plan_.facts(in->stage).waits_for_messages;
  in->main_turns = s.main_touches.size();
  in->main_work =
      s.main_touches.empty() ? nullptr : env_.work[program_.group_of[s.main_touches.front()]].data();
  in->single_work = s.has_single() ? env_.work[program_.group_of[s.single_touches.front()]].data() : nullptr;
  return in;
}

void Shard::issue(const StageInstance& instance) {
  std::unique_ptr<Issued> owned = make_issued(instance);
  Issued* in = owned.get();
  const StageInfo& s = plan_.stage(in->stage);
  if (in->main_tasks > 0) {
    int d = s.main_touches.front();
    std::uint64_t turn = in->position_of(d);
    for (int i : mine_[program_.group_of[d]])
      if (done_[d][i] <= turn) add_slot(in, i);  // else it ran on the worker this partition came from
  }
  if (s.has_single()) {
    int d = s.single_touches.front();
    if (held_[program_.group_of[d]][0] && done_[d][0] <= in->position_of(d)) add_slot(in, in->main_tasks);
  }
  for (const auto& [d, position] : in->positions) accesses_[d].push_back(in);
  if (in->waits) awaiting_[inbound_key(in)] = in;
  window_.push_back(std::move(owned));
  if (!in->complete()) ++unfinished_;
  for (int slot : in->local) try_spawn(in, slot);
  retire();
}

void Shard::add_slot(Issued* in, int slot) {
  in->slots[slot] = kWaiting;
  in->local.push_back(slot);
  ++in->tasks_total;
}

std::uint64_t Shard::inbound_key(const Issued* in) const {
  return plan_.facts(in->stage).keyed_by_source ? in->source : in->seq;
}

// --- readiness -------------------------------------------------------------------

bool Shard::arrived(const Issued* in, int slot) const {
  bool single = in->single(slot);
  switch (in->kind) {
    case StageKind::Gather: {
      auto it = inbound_.find(in->source);
      if (it == inbound_.end()) return false;
      auto from =
          it->second.chunks.find(in->index(slot));  // one entry per sender that is done with this partition
      return from != it->second.chunks.end() && static_cast<int>(from->second.size()) == in->source_senders;
    }
    case StageKind::Reduce: {
      if (!single) return true;
      auto it = inbound_.find(in->seq);
      return it != inbound_.end() && static_cast<int>(it->second.inputs.size()) == in->main_tasks;
    }
    case StageKind::Broadcast: {
      if (single) return true;
      auto it = inbound_.find(in->seq);
      return it != inbound_.end() && it->second.has_value;
    }
    default:
      return true;
  }
}

void Shard::spawn(Issued* in, int slot) {
  in->slots[slot] = kSpawned;
  ready_.push_back({in, slot});
}

// The instance at access `position` of dataset `d`, if issued and not retired.
Shard::Issued* Shard::instance_at(int d, std::uint64_t position) {
  if (position >= accesses_[d].first()) return accesses_[d].at(position);
  auto it = replay_at_.find({d, position});
  return it == replay_at_.end() ? nullptr : it->second;
}

// --- running a task -----------------------------------------------------------

template <class Policy>
void Shard::run(TaskRef t) {
  Issued* in = t.instance;
  try {
    GroupWork& work = in->work(t.slot);
    timing_ = Policy::kSlowed || wants_timing(work);
    running_work_.store(&work, std::memory_order_relaxed);
    std::uint64_t ticks = execute(in, t.slot);  // running_since_ from body_starts()
    if constexpr (Policy::kSlowed) {            // busy, as a slower machine would be
      std::uint64_t until = __rdtsc() + static_cast<std::uint64_t>(ticks * (env_.config.slowdown - 1));
      while (__rdtsc() < until) {
      }
      ticks = static_cast<std::uint64_t>(ticks * env_.config.slowdown);
    }
    if (timing_) {
      ++work.timed;
      work.timed_ticks += ticks;
      work.average_ticks =
          work.timed_ticks / work.timed;  // a division costs more than an untimed task's rest
    } else {
      ticks = work.average_ticks;
    }
    running_since_.store(0, std::memory_order_relaxed);
    // Only this thread writes these: a load and a store, no atomic increment.
    body_ticks_.store(body_ticks_.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
    work.ticks.store(work.ticks.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
    work.tasks.store(work.tasks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  } catch (const std::exception& e) {
    env_.life.fail("stage '" + plan_.stage(in->stage).name + "', partition " +
                   std::to_string(in->index(t.slot)) + ": " + e.what());
    return;
  }
  complete(in, t.slot);
}

namespace {

std::vector<Pieces> in_sender_order(std::vector<std::pair<int, Bytes>>& from) {
  std::sort(from.begin(), from.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Pieces> views;
  for (const auto& [sender, bytes] : from) views.push_back(bytes.pieces());
  return views;
}

}  // namespace

// Two clock reads (about 22 ns each on this machine's virtual CPU) are a
// third of what a near-empty task costs. So a group's tasks are timed until
// kTimedFirst of them are, and then only one in kTimedEvery unless they are
// long: load reports and the balancer need each group's CPU per task, which
// the timed ones estimate.
bool Shard::wants_timing(const GroupWork& work) const {
  constexpr std::uint64_t kTimedFirst = 16, kTimedEvery = 8;
  constexpr std::uint64_t kLongTicks = 20000;  // about 10 us
  return work.timed < kTimedFirst || work.timed_ticks > work.timed * kLongTicks ||
         work.tasks.load(std::memory_order_relaxed) % kTimedEvery == 0;
}

// Where a timed task's body begins: what it is timed from, and when the
// load reports see it running.
inline std::uint64_t Shard::body_starts() {
  if (!timing_) return 0;
  std::uint64_t now = __rdtsc();
  running_since_.store(now, std::memory_order_relaxed);
  return now;
}

inline std::uint64_t Shard::body_ends(std::uint64_t start) const { return timing_ ? __rdtsc() - start : 0; }

// Runs one task; returns the TSC ticks spent in its body (the user's
// function, or the copying a runtime-only task does), the rest being the
// scheduler's; 0 when it is not timed.
std::uint64_t Shard::execute(Issued* in, int slot) {
  int index = in->index(slot);
  int iteration = in->iterations.empty() ? 0 : in->iterations.back();
  host_.in = in;
  Task task(in->stage.value(), index, in->single(slot) ? 1 : in->main_tasks, iteration, &host_);
  parts_.clear();
  switch (in->kind) {
    case StageKind::Transform:
    case StageKind::Read:   // a transform whose input is a file (io/)
    case StageKind::Write:  // a transform whose output is a file
      return transform(in, task);
    case StageKind::Scatter:
      return scatter(in, task);
    case StageKind::Gather:
      return gather(in, task);
    case StageKind::Reduce:
      return reduce(in, slot, task);
    case StageKind::Broadcast:
      return broadcast(in, slot);
    case StageKind::Signal:
      return signal(in, task);
  }
  return 0;
}

std::uint64_t Shard::transform(Issued* in, Task& task) {
  const StageInfo& s = plan_.stage(in->stage);
  for (int d : s.reads) parts_.push_back(env_.partitions.get(d, task.index()));
  for (int d : s.writes) parts_.push_back(env_.partitions.get(d, task.index()));
  TaskArgs args{task, parts_.data()};
  args.seq = in->seq;
  std::uint64_t start = body_starts();
  s.run(args);
  return body_ends(start);
}

std::uint64_t Shard::scatter(Issued* in, Task& task) {
  const StageInfo& s = plan_.stage(in->stage);
  for (int d : s.reads) parts_.push_back(env_.partitions.get(d, task.index()));
  RowSink sink(plan_.partitions_of[s.to]);
  TaskArgs args{task, parts_.data(), &sink};
  std::uint64_t start = body_starts();
  s.run(args);
  std::uint64_t ticks = body_ends(start);
  // One message per destination worker, listing every partition it holds,
  // chunks or not: that tells each of them this sender is done.
  auto r = env_.router.routing();
  int g = program_.group_of[s.to];
  for (WorkerId w : r->workers_of[s.to]) {
    Message m{Message::Kind::Chunks, Seq(in->seq), in->stage, PartitionIndex(task.index())};
    m.iterations = in->iterations;
    for (int j = 0; j < static_cast<int>(sink.row.size()); ++j)
      if (r->owner[g][j] == w) m.parts.push_back({PartitionIndex(j), r->version[g][j], sink.take(j)});
    env_.router.send(w, std::move(m));
  }
  return ticks;
}

std::uint64_t Shard::gather(Issued* in, Task& task) {
  const StageInfo& s = plan_.stage(in->stage);
  void* part = env_.partitions.get(s.writes[0], task.index());
  TaskArgs args{task, &part};
  args.chunks_in = in_sender_order(inbound_[in->source].chunks[task.index()]);
  std::uint64_t start = body_starts();
  s.run(args);
  return body_ends(start);
}

// A reduce's main task sends its partition to the result's; its single
// task combines what arrived, in partition order.
std::uint64_t Shard::reduce(Issued* in, int slot, Task& task) {
  const StageInfo& s = plan_.stage(in->stage);
  if (in->single(slot)) {
    void* part = env_.partitions.get(s.writes[0], 0);
    TaskArgs args{task, &part};
    args.chunks_in = in_sender_order(inbound_[in->seq].inputs);
    std::uint64_t start = body_starts();
    s.run(args);
    return body_ends(start);
  }
  std::uint64_t start = body_starts();
  Message m{Message::Kind::ReduceInput, Seq(in->seq), in->stage, PartitionIndex(task.index())};
  m.iterations = in->iterations;
  m.value = env_.partitions.at(s.reads[0], task.index()).bytes();
  std::uint64_t ticks = body_ends(start);
  auto r = env_.router.routing();
  int g = program_.group_of[s.writes[0]];
  m.parts.push_back({PartitionIndex(0), r->version[g][0], Bytes()});
  env_.router.send(r->owner[g][0], std::move(m));
  return ticks;
}

// A broadcast's single task sends the source's value to every worker
// holding partitions of the copies; a main task copies it into its partition.
std::uint64_t Shard::broadcast(Issued* in, int slot) {
  const StageInfo& s = plan_.stage(in->stage);
  std::uint64_t start = body_starts();
  if (!in->single(slot)) {
    env_.partitions.at(s.writes[0], slot).read(inbound_[in->seq].value);
    return body_ends(start);
  }
  Message m{Message::Kind::BroadcastValue, Seq(in->seq), in->stage};
  m.iterations = in->iterations;
  m.value = env_.partitions.at(s.reads[0], 0).bytes();
  std::uint64_t ticks = body_ends(start);
  auto r = env_.router.routing();
  int g = program_.group_of[s.writes[0]];
  for (WorkerId w : r->workers_of[s.writes[0]]) {
    std::vector<Message::Part> parts;
    for (int j = 0; j < static_cast<int>(r->owner[g].size()); ++j)
      if (r->owner[g][j] == w) parts.push_back({PartitionIndex(j), r->version[g][j], Bytes()});
    env_.router.send(w, m.with_parts(std::move(parts)));
  }
  return ticks;
}

// A signal is evaluated where its dataset's one partition is, and every
// worker (every shard) hears the value.
std::uint64_t Shard::signal(Issued* in, Task& task) {
  const StageInfo& s = plan_.stage(in->stage);
  void* part = env_.partitions.get(s.reads[0], 0);
  TaskArgs args{task, &part};
  std::uint64_t start = body_starts();
  s.run(args);
  std::uint64_t ticks = body_ends(start);
  Message m{Message::Kind::Signal, Seq(in->seq), in->stage};
  m.iterations = in->iterations;
  m.signal = args.signal;
  for (int w = 0; w < env_.config.workers; ++w) env_.router.send(WorkerId(w), m);
  return ticks;
}

// --- completion -----------------------------------------------------------------

void Shard::complete(Issued* in, int slot) {
  const StageInfo& s = plan_.stage(in->stage);
  bool single = in->single(slot);
  in->slots[slot] = kDone;
  tasks_.store(tasks_.load(std::memory_order_relaxed) + 1,
               std::memory_order_relaxed);  // only this thread writes
  if (++in->tasks_done == in->tasks_total && !in->replay) --unfinished_;
  if (!single || in->main_tasks == 0) count_run(*in);
  if (env_.config.snapshots)
    for (int d : single ? s.single_writes : s.main_writes) saved_in_[d][in->index(slot)] = 0;
  for (auto turn = in->turns_begin(slot); turn != in->turns_end(slot); ++turn)
    advance(turn->first, in->index(slot));
  // Every change to the window retires what it can, so the front is never
  // left complete: only an instance completing lets it move.
  if (!in->complete()) return;
  if (in->replay) {
    retire_replay(in);
  } else {
    retire();
  }
}

// A task of `in` that counts towards its stage's progress has finished.
void Shard::count_run(const Issued& in) {
  StageRun& r = stage_runs_[in.stage.value()];
  std::uint64_t run = in.seq + 1, newest = r.run.load(std::memory_order_relaxed);
  if (run < newest) return;  // late in an older run: the newer one is what progress shows
  if (run > newest) {
    r.done.store(0, std::memory_order_relaxed);
    r.iteration.store(in.iterations.empty() ? -1 : in.iterations.front(), std::memory_order_relaxed);
    r.run.store(run, std::memory_order_release);
  }
  r.done.store(r.done.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

// The next access of partition `index` of dataset `d`, if issued yet.
void Shard::advance(int d, int index) {
  Issued* next = instance_at(d, ++done_[d][index]);
  if (!next) return;
  auto main_end = next->positions.begin() + static_cast<std::ptrdiff_t>(next->main_turns);
  bool main = std::find_if(next->positions.begin(), main_end, [d](const auto& p) { return p.first == d; }) !=
              main_end;
  try_spawn(next, main ? index : next->main_tasks);
}

// Frees finished instances from the front of the window, in issue order,
// with what arrived for them.
void Shard::retire() {
  while (!window_.empty() && window_.front()->complete()) {
    Issued* front = window_.front().get();
    for (const auto& access : front->positions) accesses_[access.first].pop_front();
    forget_inbound(front);
    if (retired_.size() < kRetiredKept) retired_.push_back(std::move(window_.front()));
    window_.pop_front();
  }
}

StageProgress Shard::stage_run(int stage) const {
  // The three fields are read until they agree: a task finishing meanwhile changes them.
  const StageRun& r = stage_runs_[stage];
  StageProgress p{StageId(stage), 0, -1, 0};
  do {
    p.run = r.run.load(std::memory_order_acquire);
    p.iteration = r.iteration.load(std::memory_order_relaxed);
    p.done = r.done.load(std::memory_order_acquire);
  } while (p.run != r.run.load(std::memory_order_acquire));
  return p;
}

std::uint64_t Shard::running_ticks(const GroupWork& work, std::uint64_t now) const {
  std::uint64_t since = running_since_.load(std::memory_order_relaxed);
  return since && now > since && running_work_.load(std::memory_order_relaxed) == &work ? now - since : 0;
}

}  // namespace canary::rt
