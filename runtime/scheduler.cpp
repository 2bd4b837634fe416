#include "scheduler.h"

#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <variant>

#include "snapshot.h"

namespace canary::rt {

void Outputs::add(std::uint64_t seq, int stage, int index, const std::string& key, std::string json) {
  std::lock_guard<std::mutex> lock(mutex_);
  Values& v = values_[key];
  v.list = !program_.stages[stage].partitions_is_one;
  stage_of_[key] = stage;
  auto [it, fresh] = v.by_index.try_emplace(index, seq, json);
  if (!fresh && it->second.first <= seq) it->second = {seq, std::move(json)};
}

std::string Outputs::to_json() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{";
  for (const auto& [key, v] : values_) {
    if (out.size() > 1) out += ", ";
    detail::append_json_string(out, key);
    out += ": ";
    if (!v.list) {
      out += v.by_index.begin()->second.second;
      continue;
    }
    out += "[";
    int next = 0;
    for (const auto& [index, value] : v.by_index) {
      for (; next < index; ++next) out += next ? ", null" : "null";  // partitions that said nothing
      out += next++ ? ", " : "";
      out += value.second;
    }
    out += "]";
  }
  return out + "}";
}

std::vector<Outputs::Entry> Outputs::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Entry> out;
  for (const auto& [key, v] : values_)
    for (const auto& [index, value] : v.by_index)
      out.push_back({key, stage_of_.at(key), index, value.first, value.second});
  return out;
}

namespace {

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Which datasets a task touches, by the role it plays in its stage. "Main"
// tasks are one per partition; a reduce's combine, a broadcast's send and a
// signal's evaluation are the single task on partition 0 of their dataset
// (canaryc makes sure that dataset has one partition).
struct StageShape {
  std::vector<int> main_touches;
  std::vector<int> single_touches;
  std::vector<int> main_writes;  // of those touched, the datasets the task may change
  std::vector<int> single_writes;
  bool has_single = false;
  int main_partitions_of = -1;  // the dataset whose partition count is the main tasks'
};

StageShape shape_of(const StageInfo& s) {
  StageShape shape;
  switch (s.kind) {
    case StageKind::Transform:
      shape.main_touches = s.reads;
      for (int w : s.writes)
        if (std::find(s.reads.begin(), s.reads.end(), w) == s.reads.end()) shape.main_touches.push_back(w);
      shape.main_partitions_of = shape.main_touches.front();
      break;
    case StageKind::Scatter:
      shape.main_touches = s.reads;
      shape.main_partitions_of = s.reads.front();
      break;
    case StageKind::Gather:
      shape.main_touches = s.writes;
      shape.main_partitions_of = s.writes.front();
      break;
    case StageKind::Reduce:  // main: send partition i of the input; single: combine into the result
      shape.main_touches = s.reads;
      shape.single_touches = s.writes;
      shape.has_single = true;
      shape.main_partitions_of = s.reads.front();
      break;
    case StageKind::Broadcast:  // single: send the source; main: receive into partition i
      shape.single_touches = s.reads;
      shape.main_touches = s.writes;
      shape.has_single = true;
      shape.main_partitions_of = s.writes.front();
      break;
    case StageKind::Signal:
      shape.single_touches = s.reads;
      shape.has_single = true;
      break;
  }
  auto written = [&](const std::vector<int>& touches) {
    std::vector<int> out;
    for (int d : touches)
      if (std::find(s.writes.begin(), s.writes.end(), d) != s.writes.end()) out.push_back(d);
    return out;
  };
  shape.main_writes = written(shape.main_touches);
  shape.single_writes = written(shape.single_touches);
  return shape;
}

constexpr std::uint64_t kNoSeq = ~0ULL;

// The job as every shard unrolls it: the program, the counts its parameters
// give, and what each stage's tasks touch.
struct Plan {
  const Program& program;
  std::vector<int> partitions_of;  // per dataset
  std::vector<int> loop_counts;    // per block
  std::vector<StageShape> shapes;  // per stage
  std::vector<std::uint64_t> stage_hash;
  int groups = 0;
  std::vector<std::vector<int>> datasets_of_group;  // per co-location group, ascending
  int snapshot_every = 0;                           // 0: no snapshots
};

// One stage instance as the unrolling makes it: the same on every shard.
struct Step {
  int stage = -1;
  std::uint64_t seq = 0;
  std::vector<int> iterations;  // of the enclosing loops, outermost first
  // (dataset, its access number): how many instances touched that dataset
  // before this one. Every instance touches every partition of the datasets
  // it touches, so this is also each partition's turn.
  std::vector<std::pair<int, std::uint64_t>> positions;
  std::uint64_t source = kNoSeq;  // a gather's scatter
  int source_senders = 0;         // how many tasks that scatter has
  int cut = 0;                    // > 0: the cut of snapshot `cut` lies just before this instance

  std::uint64_t position_of(int dataset) const {
    for (const auto& [d, p] : positions)
      if (d == dataset) return p;
    return kNoSeq;
  }
};

// Unrolls the program's static blocks into the numbered sequence of stage
// instances; a signal's value, once known, decides the way. A copy taken
// earlier replays the same sequence: that is how a shard finds the instances
// a partition that migrates to it still needs.
class Unroller {
 public:
  explicit Unroller(const Plan& plan) : plan_(&plan), accesses_(plan.program.datasets.size(), 0) {
    frames_.push_back({&plan.program.body});
  }

  enum class Next { Step, Signal, End };  // a step; waiting for a signal's value; the program is over

  Next next(Step& step, const std::unordered_map<std::uint64_t, bool>& signals) {
    for (;;) {
      if (waiting_signal_ != kNoSeq) {
        auto it = signals.find(waiting_signal_);
        if (it == signals.end()) return Next::Signal;
        resolve(it->second);
      }
      if (frames_.empty()) return Next::End;
      Frame& f = frames_.back();
      if (f.next < f.nodes->size()) {
        const Node node = (*f.nodes)[f.next++];
        if (!node.is_block) {
          make(node.id, step);
          return Next::Step;
        }
        if (enter(node.id, step)) return Next::Step;
        continue;
      }
      if (f.block < 0) {
        frames_.pop_back();  // the end of the job body
        continue;
      }
      const BlockInfo& b = plan_->program.blocks[f.block];
      if (b.kind == BlockKind::Loop && ++f.iteration < f.count) {
        f.next = 0;
      } else if (b.kind == BlockKind::While) {
        ++f.iteration;
        await(f.block, step);  // decides whether the body runs again
        return Next::Step;
      } else {
        frames_.pop_back();
      }
    }
  }

  std::uint64_t issued() const { return next_seq_; }
  std::uint64_t accesses(int dataset) const { return accesses_[dataset]; }

 private:
  // A block being unrolled: where in which node list, and which iteration.
  struct Frame {
    const std::vector<Node>* nodes;
    std::size_t next = 0;
    int block = -1;  // -1: the job body
    int iteration = 0;
    int count = 0;  // loops
  };

  // Returns whether it made a step (the signal of a while or an if).
  bool enter(int block, Step& step) {
    const BlockInfo& b = plan_->program.blocks[block];
    if (b.kind == BlockKind::Loop) {
      int count = plan_->loop_counts[block];
      if (count > 0) frames_.push_back({&b.body, 0, block, 0, count});
      return false;
    }
    if (b.kind == BlockKind::While) frames_.push_back({&b.body, b.body.size(), block, 0, 0});
    await(block, step);
    return true;
  }

  void await(int block, Step& step) {
    waiting_block_ = block;
    make(plan_->program.blocks[block].signal, step);
    waiting_signal_ = step.seq;
  }

  void resolve(bool value) {
    waiting_signal_ = kNoSeq;
    const BlockInfo& b = plan_->program.blocks[waiting_block_];
    if (b.kind == BlockKind::While) {  // its frame is on top: nothing is unrolled while a signal is awaited
      if (value) {
        frames_.back().next = 0;
      } else {
        frames_.pop_back();
      }
    } else {
      frames_.push_back({value ? &b.body : &b.else_body, 0, waiting_block_, 0, 0});
    }
  }

  void make(int stage, Step& step) {
    const StageInfo& s = plan_->program.stages[stage];
    const StageShape& shape = plan_->shapes[stage];
    step.cut = cut_before();
    step.stage = stage;
    step.seq = next_seq_++;
    step.iterations.clear();
    for (const Frame& f : frames_)
      if (f.block >= 0 && plan_->program.blocks[f.block].kind != BlockKind::If)
        step.iterations.push_back(f.iteration);
    step.positions.clear();
    for (int d : shape.main_touches) step.positions.emplace_back(d, accesses_[d]++);
    for (int d : shape.single_touches) step.positions.emplace_back(d, accesses_[d]++);
    step.source = kNoSeq;
    step.source_senders = 0;
    if (s.kind == StageKind::Scatter) pending_scatter_[s.to] = {step.seq, plan_->partitions_of[s.reads[0]]};
    if (s.kind == StageKind::Gather) {
      auto it = pending_scatter_.find(s.writes[0]);
      if (it == pending_scatter_.end())
        throw std::logic_error("gather '" + s.name +
                               "' has no scatter; canaryc should have refused this job");
      std::tie(step.source, step.source_senders) = it->second;
      pending_scatter_.erase(it);
    }
  }

  // Snapshots cut the run where an iteration of an outermost loop begins
  // (every `snapshot_every`-th), unless a scatter's chunks would cross the
  // cut: every shard finds the same cuts without a word to anyone.
  int cut_before() {
    std::pair<int, int> outer{-1, 0};  // (block, iteration) of the outermost loop around here
    for (const Frame& f : frames_)
      if (f.block >= 0 && plan_->program.blocks[f.block].kind != BlockKind::If) {
        outer = {f.block, f.iteration};
        break;
      }
    if (outer == outer_) return 0;
    outer_ = outer;
    bool cut = plan_->snapshot_every > 0 && outer.first >= 0 && outer.second > 0 &&
               outer.second % plan_->snapshot_every == 0 && pending_scatter_.empty();
    return cut ? ++cuts_ : 0;
  }

  const Plan* plan_;
  std::vector<Frame> frames_;
  std::pair<int, int> outer_{-1, 0};  // cut_before()'s outermost loop iteration so far
  int cuts_ = 0;
  std::uint64_t next_seq_ = 0;
  std::vector<std::uint64_t> accesses_;  // per dataset
  std::uint64_t waiting_signal_ = kNoSeq;
  int waiting_block_ = -1;
  std::map<int, std::pair<std::uint64_t, int>> pending_scatter_;  // destination -> (scatter seq, senders)
};

// The unrolling keeps a copy of itself this often, to replay from (see
// Shard::install()).
constexpr std::uint64_t kCheckpointEvery = 1024;

// Where every shard of a worker starts: the unrolling at the cut of the
// snapshot the run starts from (none: the program's start), with its
// checkpoints and the signal values before the cut.
struct StartPoint {
  Unroller unroller;
  std::vector<Unroller> checkpoints;
  std::unordered_map<std::uint64_t, bool> signals;
  int snapshot = 0;
};

StartPoint program_start(const Plan& plan) {
  StartPoint start{Unroller(plan), {}, {}, 0};
  start.checkpoints.push_back(start.unroller);
  return start;
}

// Rollback: replays the unrolling up to `cut` with the signal values the
// snapshot recorded, as every shard made it before.
StartPoint fast_forward(const Plan& plan, const Cut& cut) {
  StartPoint start = program_start(plan);
  start.snapshot = cut.snapshot;
  auto misfit = [&](const std::string& why) {
    return std::runtime_error("snapshot " + std::to_string(cut.snapshot) + " does not fit this job: " + why);
  };
  std::size_t next_signal = 0;
  Step step;
  while (start.unroller.issued() < cut.seq) {
    if (start.unroller.next(step, start.signals) != Unroller::Next::Step)
      throw misfit("its cut lies beyond the program's end");
    if (start.unroller.issued() % kCheckpointEvery == 0) start.checkpoints.push_back(start.unroller);
    if (plan.program.stages[step.stage].kind != StageKind::Signal) continue;
    if (next_signal == cut.signals.size()) throw misfit("it records too few signal values");
    start.signals[step.seq] = cut.signals[next_signal++];
  }
  if (next_signal != cut.signals.size()) throw misfit("it records too many signal values");
  return start;
}

// Migration, step 2 on the source: the shard holding the partitions lets
// them go.
struct Release {
  int group, partition, to;
  std::uint64_t version;
};
// Migration, step 4 on the destination: the chosen shard takes them.
struct Install {
  int group, partition;
  std::vector<std::tuple<int, std::uint64_t, void*>> datasets;  // (dataset, accesses completed, partition)
};
// Snapshots, step 4: snapshots up to this one are complete.
struct Resume {
  int snapshot;
};
// Central dispatch: the controller launches these tasks.
struct Launch {
  std::vector<TaskId> tasks;
};
using Item = std::variant<Message, Release, Install, Resume, Launch>;

// Where a shard's messages arrive: the only thing shards share, locked once
// per batch of messages, never per task.
class Inbox {
 public:
  void push(Item m) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(m));
      pending_.store(true, std::memory_order_release);
    }
    ready_.notify_one();
  }
  bool has_messages() const { return pending_.load(std::memory_order_acquire); }
  std::deque<Item> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.store(false, std::memory_order_relaxed);
    return std::exchange(queue_, {});
  }
  void wait(const std::atomic<bool>& stop, const std::atomic<bool>& ended) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || stop.load() || ended.load(); });
  }
  void wake() {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Item> queue_;
  std::atomic<bool> pending_{false};
};

constexpr int kElsewhere = -1;  // Routing::shard: another worker holds it
constexpr int kArriving = -2;   // the map names this worker, the handover has not come yet

}  // namespace

struct LocalScheduler::Impl {
  class Shard;

  Impl(const Program& p, const void* params, RunConfig c, Outputs& o)
      : program(p), config(std::move(c)), outputs(o), plan{p, {}, {}, {}, {}, 0, {}, 0} {
    program.evaluate_counts(params, plan.partitions_of, plan.loop_counts);
    if (config.snapshots) plan.snapshot_every = config.snapshot_every;
    for (std::size_t d = 0; d < program.datasets.size(); ++d) {
      if (plan.partitions_of[d] < 1)
        throw std::runtime_error("dataset '" + program.datasets[d].name + "' would have " +
                                 std::to_string(plan.partitions_of[d]) + " partitions; it needs at least 1");
      plan.groups = std::max(plan.groups, program.group_of[d] + 1);
      plan.datasets_of_group.resize(plan.groups);
      plan.datasets_of_group[program.group_of[d]].push_back(static_cast<int>(d));
    }
    for (const StageInfo& s : program.stages) {
      plan.shapes.push_back(shape_of(s));
      plan.stage_hash.push_back(stage_name_hash(s.name));
    }
    if (!config.map) {
      single_map = PartitionMap::single(program, plan.partitions_of);
      config.map = &single_map;
    }
    std::string error = check_map(*config.map);
    if (!error.empty()) throw std::runtime_error(error);
    config.workers = std::max(config.workers, config.worker + 1);
    for (const auto& g : config.map->owner)
      for (int w : g) config.workers = std::max(config.workers, w + 1);
    // Partition i of every dataset of a group lives on one worker (the map)
    // and there on one shard: a worker deals its partitions round-robin.
    Routing r;
    r.owner = config.map->owner;
    r.version = config.map->version;
    int next = 0;
    for (const auto& g : r.owner) {
      std::vector<int>& shards_of_group = r.shard.emplace_back();
      for (int w : g) shards_of_group.push_back(w == config.worker ? next++ % config.threads : kElsewhere);
    }
    data.assign(program.datasets.size(), {});
    for (std::size_t d = 0; d < program.datasets.size(); ++d)
      for (int i = 0; i < plan.partitions_of[d]; ++i)
        data[d].push_back(r.shard[program.group_of[d]][i] >= 0 ? program.datasets[d].ops->create() : nullptr);
    for (const auto& g : r.owner) group_work.emplace_back(g.size());
    start = std::make_unique<StartPoint>(config.start_at > 0 ? load_snapshot(r) : program_start(plan));
    publish(std::move(r));
    // Messages may be delivered before run() starts the threads.
    for (int i = 0; i < config.threads; ++i) shards.push_back(std::make_unique<Shard>(*this, i));
  }

  ~Impl() {
    for (std::size_t d = 0; d < data.size(); ++d)
      for (void* p : data[d])
        if (p) program.datasets[d].ops->destroy(p);
  }

  // The map as this worker knows it now: readers take a snapshot without
  // locking; a change swaps in a new one (reroute()).
  struct Routing {
    std::vector<std::vector<int>> owner;              // [group][partition] -> worker
    std::vector<std::vector<std::uint64_t>> version;  // [group][partition]
    std::vector<std::vector<int>> shard;       // [group][partition] -> local shard, kElsewhere, kArriving
    std::vector<std::vector<int>> workers_of;  // [dataset] -> the workers holding some of it
  };
  void publish(Routing r) {
    r.workers_of.assign(program.datasets.size(), {});
    for (std::size_t d = 0; d < program.datasets.size(); ++d)
      for (int w : r.owner[program.group_of[d]]) {
        std::vector<int>& list = r.workers_of[d];
        if (std::find(list.begin(), list.end(), w) == list.end()) list.push_back(w);
      }
    std::atomic_store(&routing_, std::make_shared<const Routing>(std::move(r)));
  }
  std::shared_ptr<const Routing> routing() const { return std::atomic_load(&routing_); }

  // Rollback: this worker's partitions as the files of snapshot
  // `config.start_at` hold them, and the unrolling at its cut.
  StartPoint load_snapshot(const Routing& r) {
    if (!config.snapshots) throw std::runtime_error("a rollback needs the snapshot directory");
    const SnapshotStore& store = *config.snapshots;
    int k = config.start_at;
    auto check = [](const std::string& error) {
      if (!error.empty()) throw std::runtime_error(error);
    };
    PartitionFile first;
    check(store.read(k, 0, 0, first));
    StartPoint start = fast_forward(plan, first.cut);
    for (int g = 0; g < plan.groups; ++g)
      for (int i = 0; i < static_cast<int>(r.shard[g].size()); ++i) {
        if (r.shard[g][i] < 0) continue;
        PartitionFile file;
        check(store.read(k, g, i, file));
        std::string path = store.path_of(k, g, i);
        const std::vector<int>& expected = plan.datasets_of_group[g];
        bool fits = file.cut.seq == first.cut.seq && file.datasets.size() == expected.size();
        for (std::size_t j = 0; fits && j < expected.size(); ++j)
          fits = file.datasets[j].dataset == expected[j] &&
                 file.datasets[j].accesses == start.unroller.accesses(expected[j]);
        if (!fits) throw std::runtime_error("snapshot file " + path + " does not fit the snapshot's cut");
        for (const Handover::Dataset& d : file.datasets) {
          try {
            program.datasets[d.dataset].ops->read(d.bytes, data[d.dataset][i]);
          } catch (const std::exception& e) {
            throw std::runtime_error("snapshot file " + path + " holds a malformed partition: " + e.what());
          }
        }
      }
    return start;
  }

  // Changes the map while nothing is being held, then gives every held part
  // another try under the new one. `change` may also queue work for shards,
  // which then precedes any message routed by the new map.
  template <class Change>
  void reroute(Change&& change) {
    std::vector<Message> retry;
    {
      std::lock_guard<std::mutex> lock(held_mutex);
      Routing next = *routing();
      change(next);
      publish(std::move(next));
      retry.swap(held_messages);
    }
    for (Message& m : retry) accept(std::move(m));
  }

  std::string check_map(const PartitionMap& map) const {
    if (static_cast<int>(map.owner.size()) != plan.groups || map.version.size() != map.owner.size())
      return "the partition map has the wrong number of groups";
    for (std::size_t d = 0; d < program.datasets.size(); ++d) {
      int g = program.group_of[d];
      if (static_cast<int>(map.owner[g].size()) != plan.partitions_of[d] ||
          map.version[g].size() != map.owner[g].size())
        return "the partition map does not match dataset '" + program.datasets[d].name + "'";
    }
    for (const auto& g : map.owner)
      for (int w : g)
        if (w < 0) return "the partition map leaves a partition without a worker";
    return "";
  }

  // Sends `m` to worker `w`: its shards get what concerns them.
  void to_worker(int w, Message m) {
    if (w == config.worker) {
      accept(std::move(m));
    } else {
      config.peers->send(w, m);
    }
  }

  // The paper's receive rule, part by part: a part for a partition held here
  // goes to its shard; one for a partition on its way here, or held
  // elsewhere by a newer map entry than ours, waits for the map to change;
  // any other is forwarded to the owner our map names.
  void accept(Message m);
  // Fans a message whose parts are all held here out to their shards.
  void dispatch(Message m, const Routing& r);
  void to_shard(int shard, Item item);

  // Whether a message from another worker makes sense: its partitions and
  // sender exist. Where they are held is accept()'s business.
  std::string check_remote(const Message& m) const {
    const StageInfo& s = program.stages[m.stage];
    auto sender_ok = [&](int d) { return m.sender >= 0 && m.sender < plan.partitions_of[d]; };
    auto parts_in = [&](int d, bool only_first) {
      for (const Message::Part& p : m.parts)
        if (p.partition < 0 || p.partition >= (only_first ? 1 : plan.partitions_of[d])) return false;
      return true;
    };
    switch (m.kind) {
      case Message::Kind::Chunks:
        if (!sender_ok(s.reads[0])) return "chunks from a partition that does not exist";
        return parts_in(s.to, false) ? "" : "chunks for a partition that does not exist";
      case Message::Kind::ReduceInput:
        if (!sender_ok(s.reads[0])) return "a reduction input from a partition that does not exist";
        return parts_in(s.writes[0], true) && m.parts.size() == 1 ? ""
                                                                  : "a reduction input for a bad partition";
      case Message::Kind::BroadcastValue:
        return parts_in(s.writes[0], false) ? "" : "a broadcast value for a partition that does not exist";
      case Message::Kind::Signal:
        return "";
    }
    return "";
  }

  // The dataset a message's parts are partitions of.
  int target_dataset(const Message& m) const {
    const StageInfo& s = program.stages[m.stage];
    return m.kind == Message::Kind::Chunks ? s.to : s.writes.empty() ? -1 : s.writes[0];
  }

  void fail(const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (failure.empty()) failure = message;
    }
    stop = true;
    wake_all();
  }
  void wake_all();

  // TSC ticks per second: the ticks since the scheduler was made, over the
  // steady clock's seconds (task bodies are timed in ticks).
  double tsc_hz() const {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - made_at).count();
    return seconds > 0 ? (__rdtsc() - made_at_tsc) / seconds : 1e9;
  }

  // Called by a shard about to wait, or finishing: if every shard is waiting
  // or done and no message is on its way, nothing can ever happen again.
  void check_progress(int waiting_delta, int finished_delta) {
    std::lock_guard<std::mutex> lock(idle_mutex);
    waiting += waiting_delta;
    finished += finished_delta;
    // With other workers, a message may always still come from them.
    if (config.workers == 1 && finished < config.threads && waiting + finished == config.threads &&
        in_flight.load() == 0 && !config.until_ended)
      fail("internal error: every shard is waiting and no message is on its way");
    if (finished == config.threads) wake_all();
  }

  RunStats stats() const;
  std::string migrate(int group, int partition, int to, std::uint64_t version);
  std::string adopt(Handover h);

  const Program& program;
  RunConfig config;
  Outputs& outputs;
  Plan plan;
  PartitionMap single_map;
  std::shared_ptr<const Routing> routing_;  // atomic_load / atomic_store only
  std::mutex held_mutex;
  std::vector<Message> held_messages;  // parts waiting for this worker's map to change
  std::atomic<std::uint64_t> forwarded_parts{0}, held_parts{0};
  std::vector<std::vector<void*>> data;  // [dataset][partition], touched only by the holding shard
  // [group][partition]: its tasks here and the TSC ticks they took, for load
  // reports. Written by the holding shard only.
  struct GroupWork {
    std::atomic<std::uint64_t> tasks{0}, ticks{0};
  };
  std::vector<std::vector<GroupWork>> group_work;
  std::unique_ptr<const StartPoint> start;
  std::vector<std::unique_ptr<Shard>> shards;

  const std::chrono::steady_clock::time_point made_at = std::chrono::steady_clock::now();
  const std::uint64_t made_at_tsc = __rdtsc();
  std::atomic<bool> stop{false}, ended{false};
  std::atomic<int> in_flight{0};         // messages sent and not yet handled
  std::atomic<int> shards_at_end{0};     // with nothing left to run
  std::atomic<int> installs_pending{0};  // handovers adopted, not yet installed by their shard
  std::mutex failure_mutex;
  std::string failure;
  std::mutex idle_mutex;
  int waiting = 0;
  int finished = 0;
};

class LocalScheduler::Impl::Shard {
 public:
  Shard(Impl& job, int id)
      : id_(id),
        job_(job),
        plan_(job.plan),
        program_(job.program),
        unroller_(job.start->unroller),
        checkpoints_(job.start->checkpoints),
        signals_(job.start->signals),
        resumed_through_(job.start->snapshot) {
    outputs_at_.outputs = &job.outputs;
    auto r = job.routing();
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
      saved_in_.emplace_back(plan_.partitions_of[d], job.start->snapshot);
      done_.emplace_back(plan_.partitions_of[d], unroller_.accesses(static_cast<int>(d)));
      accesses_.emplace_back();
      access_base_.push_back(unroller_.accesses(static_cast<int>(d)));
    }
  }

  Inbox& inbox() { return inbox_; }
  std::uint64_t tasks() const { return tasks_.load(std::memory_order_relaxed); }
  double thread_cpu_s() const { return thread_cpu_s_.load(std::memory_order_relaxed); }
  std::uint64_t body_ticks() const { return body_ticks_.load(std::memory_order_relaxed); }
  std::uint64_t stage_instances() const { return issued(); }
  // This shard's part of LocalScheduler::stage_progress(). The three fields
  // are read until they agree: a task finishing meanwhile changes them.
  StageProgress stage_run(int stage) const {
    const StageRun& r = stage_runs_[stage];
    StageProgress p{stage, 0, -1, 0};
    do {
      p.run = r.run.load(std::memory_order_acquire);
      p.iteration = r.iteration.load(std::memory_order_relaxed);
      p.done = r.done.load(std::memory_order_acquire);
    } while (p.run != r.run.load(std::memory_order_acquire));
    return p;
  }

  void main_loop() {
    cpu_start_ = thread_cpu_seconds();
    try {
      loop();
    } catch (const std::exception& e) {
      job_.fail(e.what());
    }
    thread_cpu_s_ = thread_cpu_seconds() - cpu_start_;
  }

 private:
  enum Slot : std::uint8_t { kAbsent, kWaiting, kSpawned, kDone };

  // One stage instance, as far as this shard is concerned.
  struct Instance : Step {
    int main_tasks = 0;               // over all shards
    std::vector<std::uint8_t> slots;  // Slot, by partition, then the single task (main_tasks)
    std::vector<int> local;           // the slots of the tasks here
    int tasks_total = 0;              // here
    int tasks_done = 0;
    bool replay = false;  // made again for a partition that arrived late (see install())

    bool complete() const { return tasks_done == tasks_total; }
  };
  struct TaskRef {
    Instance* instance;
    int slot;
  };
  // What arrived for one stage instance (keyed by its sequence number, a
  // gather's by its scatter's).
  struct Inbound {
    int stage = -1;                                                  // of the messages
    std::map<int, std::vector<std::pair<int, std::string>>> chunks;  // partition -> (sender, values)
    std::vector<std::pair<int, std::string>> inputs;                 // reduce: (sender, value)
    std::string value;                                               // broadcast
    bool has_value = false;
  };
  // Where a task's t.output() values go: the job's Outputs, with the
  // instance's number so that the latest value wins.
  struct OutputsAt : detail::OutputSink {
    void add(int stage, int index, const std::string& key, std::string json) override {
      outputs->add(seq, stage, index, key, std::move(json));
    }
    Outputs* outputs = nullptr;
    std::uint64_t seq = 0;
  };

  void loop() {
    while (!job_.stop) {
      if (inbox_.has_messages()) {
        for (Item& item : inbox_.take()) {
          handle(std::move(item));
          --job_.in_flight;
        }
      }
      unroll();
      if (job_.config.central && !made_ready_.empty()) report_to_central({});
      if (!ready_.empty()) {
        TaskRef t = ready_.front();
        ready_.pop_front();
        TaskId ran{t.instance->seq, t.slot};  // running it may retire its instance
        run(t);
        if (job_.config.central) report_to_central({ran});
        continue;
      }
      if (finished()) {
        if (!job_.config.until_ended) {
          job_.check_progress(0, 1);
          return;
        }
        set_at_end(true);
        if (job_.ended) return;
      }
      job_.check_progress(1, 0);
      inbox_.wait(job_.stop, job_.ended);
      job_.check_progress(-1, 0);
    }
  }

  bool finished() const { return unrolled_ && window_.empty() && replays_.empty(); }

  void set_at_end(bool at_end) {
    if (at_end == at_end_) return;
    at_end_ = at_end;
    if (at_end) thread_cpu_s_ = thread_cpu_seconds() - cpu_start_;
    if ((job_.shards_at_end += at_end ? 1 : -1) == job_.config.threads && job_.config.on_idle)
      job_.config.on_idle();
  }

  // --- issuing ----------------------------------------------------------------

  // Issues stage instances until the window is full, a signal must be
  // waited for, a snapshot's cut is reached, or the program ends.
  void unroll() {
    while (!unrolled_ && unfinished_ < job_.config.window) {
      if (!cut_pending_) {
        Unroller::Next next = unroller_.next(step_, signals_);
        if (next == Unroller::Next::Signal) return;
        if (next == Unroller::Next::End) {
          unrolled_ = true;
          return;
        }
        if (unroller_.issued() % kCheckpointEvery == 0) checkpoints_.push_back(unroller_);
        cut_pending_ = step_.cut > resumed_through_;
      }
      if (cut_pending_ && !pass_cut()) return;
      issue(step_);
    }
  }

  // The instances issued so far; the unrolling is one ahead at a cut.
  std::uint64_t issued() const { return unroller_.issued() - (cut_pending_ ? 1 : 0); }

  // Snapshots, steps 1 and 2: at a cut this shard issues nothing more until
  // every instance before it has run here, then writes each partition it
  // holds (again after one arrives by migration), and waits for resume().
  bool pass_cut() {
    if (step_.cut <= resumed_through_) {
      cut_pending_ = false;
      written_.clear();
      return true;
    }
    if (window_.empty() && replays_.empty()) write_snapshot();
    return false;
  }

  // A dataset's partition that no task changed since this shard wrote it
  // (or loaded it) at the last snapshot is that snapshot's file again.
  void write_snapshot() {
    std::vector<std::pair<int, int>> written;
    PartitionWrite file;
    for (int g = 0; g < plan_.groups; ++g)
      for (int i : mine_[g]) {
        if (!written_.insert({g, i}).second) continue;
        if (written.empty()) file.cut = cut_here();
        file.group = g;
        file.partition = i;
        file.datasets.clear();
        for (int d : plan_.datasets_of_group[g]) file.datasets.push_back({d, done_[d][i], saved_in_[d][i]});
        file.serialize = [&](int d) {
          std::string bytes;
          program_.datasets[d].ops->write(job_.data[d][i], bytes);
          return bytes;
        };
        std::string error = job_.config.snapshots->write(file);
        if (!error.empty()) throw std::runtime_error("snapshot " + std::to_string(step_.cut) + ": " + error);
        for (const PartitionWrite::Dataset& d : file.datasets) saved_in_[d.dataset][i] = step_.cut;
        written.emplace_back(g, i);
      }
    if (!written.empty() && job_.config.on_snapshot) job_.config.on_snapshot(step_.cut, written);
  }

  Cut cut_here() const {
    Cut cut{step_.cut, step_.seq, {}};
    std::vector<std::pair<std::uint64_t, bool>> before;
    for (const auto& [seq, value] : signals_)
      if (seq < step_.seq) before.emplace_back(seq, value);
    std::sort(before.begin(), before.end());
    for (const auto& [seq, value] : before) cut.signals.push_back(value);
    return cut;
  }

  // How many main tasks a stage has over all shards; also the slot of its single task.
  int main_tasks_of(int stage) const {
    int d = plan_.shapes[stage].main_partitions_of;
    return d >= 0 ? plan_.partitions_of[d] : 0;
  }

  std::unique_ptr<Instance> make_instance(const Step& step) {
    auto in = std::make_unique<Instance>();
    static_cast<Step&>(*in) = step;
    in->main_tasks = main_tasks_of(in->stage);
    in->slots.assign(in->main_tasks + 1, kAbsent);
    return in;
  }

  void issue(const Step& step) {
    std::unique_ptr<Instance> owned = make_instance(step);
    Instance* in = owned.get();
    const StageShape& shape = plan_.shapes[in->stage];
    if (in->main_tasks > 0) {
      int d = shape.main_touches.front();
      std::uint64_t turn = in->position_of(d);
      for (int i : mine_[program_.group_of[d]])
        if (done_[d][i] <= turn) add_slot(in, i);  // else it ran on the worker this partition came from
    }
    if (shape.has_single) {
      int d = shape.single_touches.front();
      if (held_[program_.group_of[d]][0] && done_[d][0] <= in->position_of(d)) add_slot(in, in->main_tasks);
    }
    for (const auto& [d, position] : in->positions) accesses_[d].push_back(in);
    if (waits_for_messages(in)) awaiting_[inbound_key(in)] = in;
    window_.push_back(std::move(owned));
    if (!in->complete()) ++unfinished_;
    for (int slot : in->local) try_spawn(in, slot);
    retire();
  }

  void add_slot(Instance* in, int slot) {
    in->slots[slot] = kWaiting;
    in->local.push_back(slot);
    ++in->tasks_total;
  }

  // Gathers, reductions and broadcasts have tasks that need what other
  // tasks send them (kept in inbound_, by inbound_key()).
  bool waits_for_messages(const Instance* in) const {
    StageKind kind = program_.stages[in->stage].kind;
    return kind == StageKind::Gather || kind == StageKind::Reduce || kind == StageKind::Broadcast;
  }

  std::uint64_t inbound_key(const Instance* in) const {
    return program_.stages[in->stage].kind == StageKind::Gather ? in->source : in->seq;
  }

  // --- readiness --------------------------------------------------------------

  bool ready(const Instance* in, int slot) {
    const StageShape& shape = plan_.shapes[in->stage];
    bool single = slot == in->main_tasks;
    int index = single ? 0 : slot;
    for (int d : single ? shape.single_touches : shape.main_touches)
      if (done_[d][index] != in->position_of(d)) return false;
    switch (program_.stages[in->stage].kind) {
      case StageKind::Gather: {
        auto it = inbound_.find(in->source);
        if (it == inbound_.end()) return false;
        auto from = it->second.chunks.find(index);  // one entry per sender that is done with this partition
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

  void try_spawn(Instance* in, int slot) {
    if (in->slots[slot] != kWaiting || !ready(in, slot)) return;
    in->slots[slot] = kSpawned;
    if (job_.config.central) {  // it waits for the controller to launch it
      launchable_[{in->seq, slot}] = in;
      made_ready_.push_back({in->seq, slot});
      return;
    }
    ready_.push_back({in, slot});
  }

  // Central dispatch: one report per task run, with the tasks it made ready.
  void report_to_central(const std::vector<TaskId>& finished) {
    job_.config.central->report(id_, finished, made_ready_);
    made_ready_.clear();
  }

  void launch(const Launch& l) {
    for (const TaskId& t : l.tasks) {
      auto it = launchable_.find({t.seq, t.slot});
      if (it == launchable_.end()) continue;  // not one of ours: refused by LocalScheduler::launch()
      ready_.push_back({it->second, t.slot});
      launchable_.erase(it);
    }
  }

  // The instance at access `position` of dataset `d`, if issued and not retired.
  Instance* instance_at(int d, std::uint64_t position) {
    if (position >= access_base_[d]) {
      std::uint64_t offset = position - access_base_[d];
      return offset < accesses_[d].size() ? accesses_[d][offset] : nullptr;
    }
    auto it = replay_at_.find({d, position});
    return it == replay_at_.end() ? nullptr : it->second;
  }

  // --- messages and migrations --------------------------------------------------

  void handle(Item item) {
    if (auto* m = std::get_if<Message>(&item)) {
      handle(std::move(*m));
    } else if (auto* r = std::get_if<Release>(&item)) {
      release(*r);
    } else if (auto* resume = std::get_if<Resume>(&item)) {
      resumed_through_ = std::max(resumed_through_, resume->snapshot);
    } else if (auto* l = std::get_if<Launch>(&item)) {
      launch(*l);
    } else {
      install(std::get<Install>(std::move(item)));
      if (at_end_ && !finished()) set_at_end(false);
      --job_.installs_pending;
    }
  }

  void handle(Message m) {
    if (m.kind == Message::Kind::Signal) {
      signals_[m.seq] = m.signal;
      return;
    }
    // Parts for partitions that left this shard since the message was
    // routed go where the map now says (migration, step 3).
    int g = program_.group_of[job_.target_dataset(m)];
    auto gone = std::stable_partition(m.parts.begin(), m.parts.end(),
                                      [&](const Message::Part& p) { return held_[g][p.partition] != 0; });
    if (gone != m.parts.end()) {
      Message onward(m.kind, m.seq, m.stage, m.sender);
      onward.iterations = m.iterations;
      onward.value = m.value;
      onward.parts.assign(std::make_move_iterator(gone), std::make_move_iterator(m.parts.end()));
      m.parts.erase(gone, m.parts.end());
      job_.accept(std::move(onward));
      if (m.parts.empty()) return;
    }
    Inbound& in = inbound_[m.seq];
    in.stage = m.stage;
    switch (m.kind) {
      case Message::Kind::Chunks:
        for (Message::Part& p : m.parts) in.chunks[p.partition].push_back({m.sender, std::move(p.bytes)});
        break;
      case Message::Kind::ReduceInput:
        in.inputs.emplace_back(m.sender, std::move(m.value));
        break;
      case Message::Kind::BroadcastValue:
        in.value = std::move(m.value);
        in.has_value = true;
        break;
      case Message::Kind::Signal:
        break;
    }
    if (auto it = awaiting_.find(m.seq); it != awaiting_.end())
      for (int slot : it->second->local) try_spawn(it->second, slot);
  }

  // Calls use(slot, dataset) for each task an instance has on partition i
  // of group g: its main task, and for i == 0 its single task too, when they
  // touch that group (both may). `dataset` is the one whose access counter
  // says whether the task ran.
  template <class Use>
  void for_slots_on(const Step& step, int g, int i, Use&& use) const {
    const StageShape& shape = plan_.shapes[step.stage];
    if (shape.main_partitions_of >= 0 && program_.group_of[shape.main_partitions_of] == g)
      use(i, shape.main_touches.front());
    if (shape.has_single && i == 0 && program_.group_of[shape.single_touches.front()] == g)
      use(main_tasks_of(step.stage), shape.single_touches.front());
  }

  // Migration, steps 2 and 3: the tasks this shard issued for the group's
  // partitions are dropped (none is running: this thread runs them), the
  // access counters say how far they got, and they leave with what arrived
  // for them and was not used yet.
  void release(const Release& r) {
    int g = r.group, i = r.partition;
    if (!held_[g][i]) return;
    Handover h;
    h.group = g;
    h.partition = i;
    h.version = r.version;
    for (auto& [key, inbound] : inbound_) take_pending(key, inbound, g, i, r.version, h.pending);
    held_[g][i] = 0;
    mine_[g].erase(std::find(mine_[g].begin(), mine_[g].end(), i));
    auto on_group = [&](const TaskRef& t) {
      bool on = false;
      for_slots_on(*t.instance, g, i, [&](int slot, int) { on |= slot == t.slot; });
      return on;
    };
    ready_.erase(std::remove_if(ready_.begin(), ready_.end(), on_group), ready_.end());
    auto drop = [&](Instance* in) { for_slots_on(*in, g, i, [&](int slot, int) { drop_slot(in, slot); }); };
    for (auto& in : window_) drop(in.get());
    std::vector<Instance*> replays;
    for (auto& [seq, in] : replays_) replays.push_back(in.get());
    for (Instance* in : replays) {
      drop(in);
      if (in->complete()) retire_replay(in);
    }
    for (int d : plan_.datasets_of_group[g]) {
      std::string bytes;
      program_.datasets[d].ops->write(job_.data[d][i], bytes);
      program_.datasets[d].ops->destroy(job_.data[d][i]);
      job_.data[d][i] = nullptr;
      h.datasets.push_back({d, done_[d][i], std::move(bytes)});
    }
    retire();
    job_.config.peers->hand_over(r.to, h);
  }

  void drop_slot(Instance* in, int slot) {
    if (in->slots[slot] != kWaiting && in->slots[slot] != kSpawned) return;
    bool was_complete = in->complete();
    in->slots[slot] = kAbsent;
    in->local.erase(std::find(in->local.begin(), in->local.end(), slot));
    --in->tasks_total;
    if (!in->replay && !was_complete && in->complete()) --unfinished_;
  }

  // Moves what arrived for partition i of group g, and is not used yet, into
  // `out` as the messages that brought it.
  void take_pending(std::uint64_t key, Inbound& inbound, int g, int i, std::uint64_t version,
                    std::vector<Message>& out) {
    const StageInfo& s = program_.stages[inbound.stage];
    auto waiting = awaiting_.find(key);
    const Instance* in = waiting == awaiting_.end() ? nullptr : waiting->second;
    auto used = [&](int slot) { return in && in->slots[slot] == kDone; };
    if (s.kind == StageKind::Scatter && program_.group_of[s.to] == g) {
      auto chunks = inbound.chunks.find(i);
      if (chunks == inbound.chunks.end()) return;
      if (!used(i))
        for (auto& [sender, bytes] : chunks->second) {
          Message& m = out.emplace_back(Message::Kind::Chunks, key, inbound.stage, sender);
          m.parts.push_back({i, version, std::move(bytes)});
        }
      inbound.chunks.erase(chunks);
    } else if (s.kind == StageKind::Reduce && program_.group_of[s.writes[0]] == g && i == 0) {
      if (!in || !used(in->main_tasks))
        for (auto& [sender, value] : inbound.inputs) {
          Message& m = out.emplace_back(Message::Kind::ReduceInput, key, inbound.stage, sender);
          m.value = std::move(value);
          m.parts.push_back({0, version, ""});
        }
      inbound.inputs.clear();
    } else if (s.kind == StageKind::Broadcast && program_.group_of[s.writes[0]] == g && inbound.has_value &&
               !used(i)) {
      Message& m = out.emplace_back(Message::Kind::BroadcastValue, key, inbound.stage);
      m.value = inbound.value;
      m.parts.push_back({i, version, ""});
    }
  }

  // Migration, step 4: the partitions join this shard where they left off.
  // Instances not issued here yet will include them; those issued already
  // get their tasks added, and those retired already are made again from
  // the unrolling's checkpoints (with the signals this shard has seen).
  void install(Install x) {
    int g = x.group, i = x.partition;
    held_[g][i] = 1;
    mine_[g].insert(std::lower_bound(mine_[g].begin(), mine_[g].end(), i), i);
    for (auto& [d, accesses, partition] : x.datasets) {
      job_.data[d][i] = partition;
      done_[d][i] = accesses;
      saved_in_[d][i] = 0;
    }
    auto before = [&](const Unroller& u) {
      for (auto& [d, accesses, partition] : x.datasets)
        if (u.accesses(d) > accesses) return false;
      return true;
    };
    auto from = std::find_if(checkpoints_.rbegin(), checkpoints_.rend(), before);
    Unroller replay = *from;  // checkpoints_.front() is the start, before everything
    std::uint64_t first_in_window = window_.empty() ? issued() : window_.front()->seq;
    Step step;
    while (replay.issued() < issued() && replay.next(step, signals_) == Unroller::Next::Step) {
      for_slots_on(step, g, i, [&](int slot, int d) {
        if (step.position_of(d) < done_[d][i]) return;  // it ran where the partitions came from
        Instance* in =
            step.seq >= first_in_window ? window_[step.seq - first_in_window].get() : replay_of(step);
        if (in->slots[slot] != kAbsent) return;
        bool was_complete = in->complete();
        add_slot(in, slot);
        if (!in->replay && was_complete) ++unfinished_;
        try_spawn(in, slot);
      });
    }
  }

  Instance* replay_of(const Step& step) {
    auto it = replays_.find(step.seq);
    if (it != replays_.end()) return it->second.get();
    std::unique_ptr<Instance> owned = make_instance(step);
    Instance* in = owned.get();
    in->replay = true;
    for (const auto& [d, position] : in->positions) replay_at_[{d, position}] = in;
    if (waits_for_messages(in)) awaiting_[inbound_key(in)] = in;
    replays_.emplace(step.seq, std::move(owned));
    return in;
  }

  void retire_replay(Instance* in) {
    for (const auto& [d, position] : in->positions) replay_at_.erase({d, position});
    forget_inbound(in);
    replays_.erase(in->seq);
  }

  void forget_inbound(const Instance* in) {
    if (!waits_for_messages(in)) return;
    awaiting_.erase(inbound_key(in));
    inbound_.erase(inbound_key(in));
  }
  // --- running a task -----------------------------------------------------------

  void run(TaskRef t) {
    Instance* in = t.instance;
    try {
      GroupWork& group = group_work(in, t.slot);
      running_group_.store(&group, std::memory_order_relaxed);
      running_since_.store(__rdtsc(), std::memory_order_relaxed);
      std::uint64_t ticks = execute(in, t.slot);
      if (job_.config.slowdown > 1) {  // busy, as a slower machine would be
        std::uint64_t until = __rdtsc() + static_cast<std::uint64_t>(ticks * (job_.config.slowdown - 1));
        while (__rdtsc() < until) {
        }
        ticks = static_cast<std::uint64_t>(ticks * job_.config.slowdown);
      }
      running_since_.store(0, std::memory_order_relaxed);
      body_ticks_.store(body_ticks_.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
      group.ticks.store(group.ticks.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
      group.tasks.store(group.tasks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      bool single = t.slot == in->main_tasks;
      job_.fail("stage '" + program_.stages[in->stage].name + "', partition " +
                std::to_string(single ? 0 : t.slot) + ": " + e.what());
      return;
    }
    complete(in, t.slot);
  }

  static std::vector<std::string_view> in_sender_order(std::vector<std::pair<int, std::string>>& from) {
    std::sort(from.begin(), from.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string_view> views;
    for (const auto& [sender, bytes] : from) views.push_back(bytes);
    return views;
  }

  // Runs one task; returns the TSC ticks spent in its body (the user's
  // function, or the copying a runtime-only task does), the rest being the
  // scheduler's.
  std::uint64_t execute(Instance* in, int slot) {
    const StageInfo& s = program_.stages[in->stage];
    std::vector<std::vector<void*>>& data = job_.data;
    bool single = slot == in->main_tasks;
    int index = single ? 0 : slot;
    std::uint64_t seed = task_seed(plan_.stage_hash[in->stage], index, in->iterations);
    int iteration = in->iterations.empty() ? 0 : in->iterations.back();
    outputs_at_.seq = in->seq;
    Task task(in->stage, index, single ? 1 : in->main_tasks, iteration, seed, &outputs_at_);
    parts_.clear();
    std::uint64_t start = __rdtsc();
    switch (s.kind) {
      case StageKind::Transform: {
        for (int d : s.reads) parts_.push_back(data[d][index]);
        for (int d : s.writes) parts_.push_back(data[d][index]);
        TaskArgs args{task, parts_.data()};
        start = __rdtsc();
        s.run(args);
        break;
      }
      case StageKind::Scatter: {
        for (int d : s.reads) parts_.push_back(data[d][index]);
        RowSink sink(plan_.partitions_of[s.to]);
        TaskArgs args{task, parts_.data(), &sink};
        start = __rdtsc();
        s.run(args);
        std::uint64_t ticks = __rdtsc() - start;
        // One message per destination worker, listing every partition it
        // holds, chunks or not: that tells each of them this sender is done.
        auto r = job_.routing();
        int g = program_.group_of[s.to];
        for (int w : r->workers_of[s.to]) {
          Message m{Message::Kind::Chunks, in->seq, in->stage, index};
          m.iterations = in->iterations;
          for (int j = 0; j < static_cast<int>(sink.row.size()); ++j)
            if (r->owner[g][j] == w) m.parts.push_back({j, r->version[g][j], std::move(sink.row[j])});
          job_.to_worker(w, std::move(m));
        }
        return ticks;
      }
      case StageKind::Gather: {
        void* part = data[s.writes[0]][index];
        TaskArgs args{task, &part};
        args.chunks_in = in_sender_order(inbound_[in->source].chunks[index]);
        start = __rdtsc();
        s.run(args);
        break;
      }
      case StageKind::Reduce:
        if (!single) {
          Message m{Message::Kind::ReduceInput, in->seq, in->stage, index};
          m.iterations = in->iterations;
          program_.datasets[s.reads[0]].ops->write(data[s.reads[0]][index], m.value);
          std::uint64_t ticks = __rdtsc() - start;
          auto r = job_.routing();
          int g = program_.group_of[s.writes[0]];
          m.parts.push_back({0, r->version[g][0], ""});
          job_.to_worker(r->owner[g][0], std::move(m));
          return ticks;
        } else {
          void* part = data[s.writes[0]][0];
          TaskArgs args{task, &part};
          args.chunks_in = in_sender_order(inbound_[in->seq].inputs);
          start = __rdtsc();
          s.run(args);
        }
        break;
      case StageKind::Broadcast:
        if (single) {
          Message m{Message::Kind::BroadcastValue, in->seq, in->stage};
          m.iterations = in->iterations;
          program_.datasets[s.reads[0]].ops->write(data[s.reads[0]][0], m.value);
          std::uint64_t ticks = __rdtsc() - start;
          auto r = job_.routing();
          int g = program_.group_of[s.writes[0]];
          for (int w : r->workers_of[s.writes[0]]) {
            Message part = m;
            for (int j = 0; j < static_cast<int>(r->owner[g].size()); ++j)
              if (r->owner[g][j] == w) part.parts.push_back({j, r->version[g][j], ""});
            job_.to_worker(w, std::move(part));
          }
          return ticks;
        }
        program_.datasets[s.writes[0]].ops->read(inbound_[in->seq].value, data[s.writes[0]][index]);
        break;
      case StageKind::Signal: {
        void* part = data[s.reads[0]][0];
        TaskArgs args{task, &part};
        start = __rdtsc();
        s.run(args);
        std::uint64_t ticks = __rdtsc() - start;
        Message m{Message::Kind::Signal, in->seq, in->stage};
        m.iterations = in->iterations;
        m.signal = args.signal;
        for (int w = 0; w < job_.config.workers; ++w) job_.to_worker(w, m);
        return ticks;
      }
    }
    return __rdtsc() - start;
  }

  // A scatter task's sends, one buffer per destination partition.
  struct RowSink : detail::ChunkSink {
    explicit RowSink(int partitions) : row(partitions) {}
    std::string* buffer(int destination) override {
      return destination >= 0 && destination < static_cast<int>(row.size()) ? &row[destination] : nullptr;
    }
    void sent(int) override {}
    std::vector<std::string> row;
  };

  // The load-report counters of the partition group a task works on.
  GroupWork& group_work(const Instance* in, int slot) {
    const StageShape& shape = plan_.shapes[in->stage];
    bool single = slot == in->main_tasks;
    int d = single ? shape.single_touches.front() : shape.main_partitions_of;
    return job_.group_work[program_.group_of[d]][single ? 0 : slot];
  }

  // --- completion -----------------------------------------------------------------

  void complete(Instance* in, int slot) {
    const StageShape& shape = plan_.shapes[in->stage];
    bool single = slot == in->main_tasks;
    in->slots[slot] = kDone;
    tasks_.store(tasks_.load(std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);  // only this thread writes
    if (++in->tasks_done == in->tasks_total && !in->replay) --unfinished_;
    if (!single || in->main_tasks == 0) count_run(*in);
    if (job_.config.snapshots)
      for (int d : single ? shape.single_writes : shape.main_writes) saved_in_[d][single ? 0 : slot] = 0;
    for (int d : single ? shape.single_touches : shape.main_touches) advance(d, single ? 0 : slot);
    if (in->replay && in->complete()) retire_replay(in);
    retire();
  }

  // A task of `in` that counts towards its stage's progress has finished.
  void count_run(const Instance& in) {
    StageRun& r = stage_runs_[in.stage];
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
  void advance(int d, int index) {
    Instance* next = instance_at(d, ++done_[d][index]);
    if (!next) return;
    const StageShape& shape = plan_.shapes[next->stage];
    bool main =
        std::find(shape.main_touches.begin(), shape.main_touches.end(), d) != shape.main_touches.end();
    try_spawn(next, main ? index : next->main_tasks);
  }

  // Frees finished instances from the front of the window, in issue order,
  // with what arrived for them.
  void retire() {
    while (!window_.empty() && window_.front()->complete()) {
      Instance* front = window_.front().get();
      for (const auto& access : front->positions) {
        accesses_[access.first].pop_front();
        ++access_base_[access.first];
      }
      forget_inbound(front);
      window_.pop_front();
    }
  }

  int id_;
  Impl& job_;
  const Plan& plan_;
  const Program& program_;
  Inbox inbox_;

  Unroller unroller_;
  Step step_;                          // reused by unroll()
  bool unrolled_ = false;              // to the program's end
  std::vector<Unroller> checkpoints_;  // the unroller every kCheckpointEvery instances, from the start
  std::unordered_map<std::uint64_t, bool> signals_;  // every signal's value, by seq
  bool cut_pending_ = false;                         // step_ follows a cut this shard has not passed
  std::vector<std::vector<int>> saved_in_;  // [dataset][partition]: the snapshot holding it as it is; 0: none
  int resumed_through_;                     // snapshots known to be complete
  std::set<std::pair<int, int>> written_;   // (group, partition) written at the pending cut
  int unfinished_ = 0;                      // issued instances with local tasks left
  bool at_end_ = false;

  std::vector<std::vector<std::uint8_t>> held_;   // [group][partition]: held by this shard
  std::vector<std::vector<int>> mine_;            // [group]: the partitions held, ascending
  std::vector<std::vector<std::uint64_t>> done_;  // [dataset][partition]: accesses completed (held ones)
  std::vector<std::deque<Instance*>> accesses_;   // per dataset: issued accesses not yet retired
  std::vector<std::uint64_t> access_base_;        // per dataset: the access number of accesses_.front()
  std::deque<std::unique_ptr<Instance>> window_;  // issued, not yet retired, in issue order
  std::map<std::uint64_t, std::unique_ptr<Instance>> replays_;    // made again by install(), by seq
  std::map<std::pair<int, std::uint64_t>, Instance*> replay_at_;  // (dataset, access number) -> replay
  std::deque<TaskRef> ready_;
  std::map<std::pair<std::uint64_t, int>, Instance*> launchable_;  // central dispatch: ready, not launched
  std::vector<TaskId> made_ready_;                                 // central dispatch: not yet reported
  std::unordered_map<std::uint64_t, Inbound> inbound_;
  std::unordered_map<std::uint64_t, Instance*> awaiting_;  // instances that wait for messages, by inbound key
  std::vector<void*> parts_;
  OutputsAt outputs_at_;

  // Written by this shard's thread only; atomic so load reports can read them.
  struct StageRun {
    std::atomic<std::uint64_t> run{0};  // the newest instance a task finished in, plus one (0: none)
    std::atomic<int> iteration{-1};
    std::atomic<int> done{0};  // of its tasks that count (see StageProgress)
  };
  std::vector<StageRun> stage_runs_{plan_.shapes.size()};
  std::atomic<std::uint64_t> tasks_{0};
  std::atomic<std::uint64_t> body_ticks_{0};
  std::atomic<double> thread_cpu_s_{0};
  double cpu_start_ = 0;

 public:
  // The ticks the running task, if any, has taken so far on `group`'s
  // counters: load reports count a task as it goes, so that a long one is no
  // idle time. Read from another thread, the pair may be a task apart.
  std::uint64_t running_ticks(const GroupWork& group, std::uint64_t now) const {
    std::uint64_t since = running_since_.load(std::memory_order_relaxed);
    return since && now > since && running_group_.load(std::memory_order_relaxed) == &group ? now - since : 0;
  }

 private:
  std::atomic<const GroupWork*> running_group_{nullptr};
  std::atomic<std::uint64_t> running_since_{0};  // 0: none
};

void LocalScheduler::Impl::wake_all() {
  for (auto& s : shards) s->inbox().wake();
}

void LocalScheduler::Impl::to_shard(int shard, Item item) {
  ++in_flight;
  shards[shard]->inbox().push(std::move(item));
}

void LocalScheduler::Impl::accept(Message m) {
  auto r = routing();
  int d = target_dataset(m);
  if (m.kind == Message::Kind::Signal || d < 0) {
    dispatch(std::move(m), *r);
    return;
  }
  int g = program.group_of[d];
  Message local(m.kind, m.seq, m.stage, m.sender), later = local;
  std::map<int, Message> onward;  // by worker
  for (Message::Part& p : m.parts) {
    int shard = r->shard[g][p.partition];
    if (shard >= 0) {
      local.parts.push_back(std::move(p));
    } else if (shard == kArriving || p.version > r->version[g][p.partition]) {
      later.parts.push_back(std::move(p));
    } else {
      int w = r->owner[g][p.partition];
      auto it = onward.try_emplace(w, m.kind, m.seq, m.stage, m.sender).first;
      it->second.parts.push_back({p.partition, r->version[g][p.partition], std::move(p.bytes)});
    }
  }
  for (Message* x : {&local, &later}) {
    x->iterations = m.iterations;
    x->value = m.value;
  }
  for (auto& [w, x] : onward) {
    forwarded_parts += x.parts.size();
    x.iterations = m.iterations;
    x.value = m.value;
    config.peers->send(w, x);
  }
  if (!later.parts.empty()) {
    std::unique_lock<std::mutex> lock(held_mutex);
    if (routing() == r) {
      held_parts += later.parts.size();
      held_messages.push_back(std::move(later));
    } else {  // the map changed meanwhile: decide again
      lock.unlock();
      accept(std::move(later));
    }
  }
  if (!local.parts.empty()) dispatch(std::move(local), *r);
}

void LocalScheduler::Impl::dispatch(Message m, const Routing& r) {
  const StageInfo& stage = program.stages[m.stage];
  auto shard_of = [&](int d, int i) { return r.shard[program.group_of[d]][i]; };
  auto for_shards = [&](int d) {
    std::map<int, Message> by_shard;
    for (Message::Part& p : m.parts) {
      auto it = by_shard.try_emplace(shard_of(d, p.partition), m.kind, m.seq, m.stage, m.sender).first;
      it->second.parts.push_back(std::move(p));
    }
    for (auto& [shard, part] : by_shard) {
      part.iterations = m.iterations;
      part.value = m.value;
      to_shard(shard, std::move(part));
    }
  };
  switch (m.kind) {
    case Message::Kind::Chunks:
      for_shards(stage.to);
      break;
    case Message::Kind::ReduceInput:
      to_shard(shard_of(stage.writes[0], 0), std::move(m));
      break;
    case Message::Kind::BroadcastValue:
      for_shards(stage.writes[0]);
      break;
    case Message::Kind::Signal:
      for (int shard = 0; shard < config.threads; ++shard) to_shard(shard, m);
      break;
  }
}

// Migration, step 2 on the source: from now on the map sends the group's
// partitions elsewhere, and the shard holding them lets them go.
std::string LocalScheduler::Impl::migrate(int group, int partition, int to, std::uint64_t version) {
  auto r = routing();
  if (group < 0 || group >= plan.groups || partition < 0 ||
      partition >= static_cast<int>(r->owner[group].size()))
    return "a migration of a partition that does not exist";
  if (to < 0 || to >= config.workers || to == config.worker) return "a migration to a bad worker";
  int shard = r->shard[group][partition];
  if (shard < 0) return "a migration of a partition this worker does not hold";
  if (version <= r->version[group][partition]) return "a migration with an old map version";
  reroute([&](Routing& next) {
    next.owner[group][partition] = to;
    next.version[group][partition] = version;
    next.shard[group][partition] = kElsewhere;
    to_shard(shard, Release{group, partition, to, version});
  });
  return "";
}

// Migration, step 4 on the destination: the partitions are decoded here, on
// the receiving thread, so a malformed handover is refused whole; the
// shard holding the fewest of the group's partitions takes them.
std::string LocalScheduler::Impl::adopt(Handover h) {
  auto r = routing();
  int g = h.group, i = h.partition;
  if (g < 0 || g >= plan.groups || i < 0 || i >= static_cast<int>(r->owner[g].size()))
    return "a handover of a partition that does not exist";
  if (r->shard[g][i] >= 0) return "a handover of a partition this worker holds already";
  if (h.version < r->version[g][i]) return "a handover older than this worker's map";
  std::vector<int> given;
  for (const Handover::Dataset& d : h.datasets) given.push_back(d.dataset);
  if (given != plan.datasets_of_group[g]) return "a handover without every dataset of its group, in order";
  for (const Message& m : h.pending) {
    std::string problem = m.kind == Message::Kind::Signal ? "a signal" : check_remote(m);
    if (problem.empty() &&
        (program.group_of[target_dataset(m)] != g || m.parts.size() != 1 || m.parts[0].partition != i))
      problem = "a message for other partitions";
    if (!problem.empty()) return "a handover with " + problem;
  }
  Install install{g, i, {}};
  try {
    for (const Handover::Dataset& d : h.datasets) {
      const TypeOps* ops = program.datasets[d.dataset].ops;
      std::unique_ptr<void, void (*)(void*)> value(ops->create(), ops->destroy);
      ops->read(d.bytes, value.get());
      install.datasets.emplace_back(d.dataset, d.accesses, value.release());
    }
  } catch (const std::exception& e) {
    for (auto& [d, accesses, value] : install.datasets) program.datasets[d].ops->destroy(value);
    return std::string("a handover with a malformed partition: ") + e.what();
  }
  std::vector<int> held(config.threads, 0);
  for (int s : r->shard[g])
    if (s >= 0) ++held[s];
  int shard = static_cast<int>(std::min_element(held.begin(), held.end()) - held.begin());
  ++installs_pending;
  reroute([&](Routing& next) {
    next.owner[g][i] = config.worker;
    next.version[g][i] = h.version;
    next.shard[g][i] = shard;
    to_shard(shard, std::move(install));
  });
  for (Message& m : h.pending) to_shard(shard, std::move(m));
  return "";
}

RunStats LocalScheduler::Impl::stats() const {
  RunStats stats;
  stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - made_at).count();
  double hz = tsc_hz();
  double thread_cpu = 0;
  for (const auto& s : shards) {
    stats.tasks += s->tasks();
    stats.tasks_per_thread.push_back(s->tasks());
    stats.task_cpu_s += s->body_ticks() / hz;
    thread_cpu += s->thread_cpu_s();
    stats.stage_instances = s->stage_instances();
  }
  stats.scheduler_cpu_s = std::max(0.0, thread_cpu - stats.task_cpu_s);
  return stats;
}

PartitionMap PartitionMap::single(const Program& program, const std::vector<int>& dataset_partitions) {
  PartitionMap map;
  for (std::size_t d = 0; d < program.datasets.size(); ++d) {
    int g = program.group_of[d];
    if (static_cast<int>(map.owner.size()) <= g) map.owner.resize(g + 1);
    map.owner[g].assign(dataset_partitions[d], 0);
    if (static_cast<int>(map.version.size()) <= g) map.version.resize(g + 1);
    map.version[g].assign(dataset_partitions[d], 1);
  }
  return map;
}

LocalScheduler::LocalScheduler(const Program& program, const void* params, RunConfig config, Outputs& outputs)
    : impl_(std::make_unique<Impl>(program, params, std::move(config), outputs)) {}
LocalScheduler::~LocalScheduler() = default;

RunStats LocalScheduler::run() {
  Impl& j = *impl_;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (auto& s : j.shards) threads.emplace_back([&s] { s->main_loop(); });
  for (std::thread& t : threads) t.join();
  if (!j.failure.empty()) throw std::runtime_error(j.failure);
  RunStats stats = j.stats();
  stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

RunStats LocalScheduler::stats() const { return impl_->stats(); }

std::string LocalScheduler::deliver(Message m) {
  std::string error = impl_->check_remote(m);
  if (error.empty()) impl_->accept(std::move(m));
  return error;
}

std::string LocalScheduler::update_map(const PartitionMap& map) {
  Impl& j = *impl_;
  std::string error = j.check_map(map);
  if (!error.empty()) return error;
  auto old = j.routing();
  for (std::size_t g = 0; g < map.owner.size(); ++g)
    for (std::size_t i = 0; i < map.owner[g].size(); ++i)
      if (map.version[g][i] > old->version[g][i] && old->shard[g][i] >= 0 &&
          map.owner[g][i] != j.config.worker)
        return "the map moves partition " + std::to_string(i) + " of group " + std::to_string(g) +
               " away from this worker, which needs a migration";
  j.reroute([&](Impl::Routing& next) {
    for (std::size_t g = 0; g < map.owner.size(); ++g)
      for (std::size_t i = 0; i < map.owner[g].size(); ++i) {
        if (map.version[g][i] <= next.version[g][i]) continue;  // not newer than what we know
        bool here = map.owner[g][i] == j.config.worker;
        next.owner[g][i] = map.owner[g][i];
        next.version[g][i] = map.version[g][i];
        next.shard[g][i] = here ? kArriving : kElsewhere;  // not held here: checked above
      }
  });
  return "";
}

std::string LocalScheduler::migrate(int group, int partition, int to, std::uint64_t version) {
  return impl_->migrate(group, partition, to, version);
}

std::string LocalScheduler::adopt(Handover h) { return impl_->adopt(std::move(h)); }

bool LocalScheduler::idle() const {
  return impl_->shards_at_end == impl_->config.threads && impl_->installs_pending == 0;
}

void LocalScheduler::end() {
  impl_->ended = true;
  impl_->wake_all();
}

std::vector<GroupLoad> LocalScheduler::group_loads() const {
  auto r = impl_->routing();
  double hz = impl_->tsc_hz();
  std::uint64_t now = __rdtsc();
  std::vector<GroupLoad> loads;
  for (std::size_t g = 0; g < r->shard.size(); ++g)
    for (std::size_t i = 0; i < r->shard[g].size(); ++i) {
      if (r->shard[g][i] < 0) continue;
      const Impl::GroupWork& work = impl_->group_work[g][i];
      std::uint64_t ticks = work.ticks.load(std::memory_order_relaxed);
      for (const auto& shard : impl_->shards) ticks += shard->running_ticks(work, now);
      loads.push_back(
          {static_cast<int>(g), static_cast<int>(i), work.tasks.load(std::memory_order_relaxed), ticks / hz});
    }
  return loads;
}

std::uint64_t LocalScheduler::tasks_done() const {
  std::uint64_t n = 0;
  for (const auto& s : impl_->shards) n += s->tasks();
  return n;
}

double LocalScheduler::busy_seconds() const {
  std::uint64_t ticks = 0;
  for (const auto& s : impl_->shards) ticks += s->body_ticks();
  return ticks / impl_->tsc_hz();
}

std::vector<StageProgress> LocalScheduler::stage_progress() const {
  std::vector<StageProgress> stages;
  for (std::size_t stage = 0; stage < impl_->plan.shapes.size(); ++stage) {
    StageProgress newest{static_cast<int>(stage), 0, -1, 0};
    for (const auto& shard : impl_->shards) newest.add(shard->stage_run(static_cast<int>(stage)));
    stages.push_back(newest);
  }
  return stages;
}

std::vector<int> tasks_per_run(const Program& program, const std::vector<int>& dataset_partitions) {
  std::vector<int> tasks;
  for (const StageInfo& s : program.stages) {
    int d = shape_of(s).main_partitions_of;
    tasks.push_back(d >= 0 && d < static_cast<int>(dataset_partitions.size()) ? dataset_partitions[d] : 1);
  }
  return tasks;
}

std::uint64_t LocalScheduler::forwarded() const { return impl_->forwarded_parts; }
std::uint64_t LocalScheduler::held() const { return impl_->held_parts; }
void LocalScheduler::stop(const std::string& reason) { impl_->fail(reason); }

std::string LocalScheduler::launch(int shard, std::vector<TaskId> tasks) {
  if (shard < 0 || shard >= impl_->config.threads) return "a launch for a shard that does not exist";
  impl_->to_shard(shard, Launch{std::move(tasks)});
  return "";
}

void LocalScheduler::resume(int snapshot) {
  for (int shard = 0; shard < impl_->config.threads; ++shard) impl_->to_shard(shard, Resume{snapshot});
}

}  // namespace canary::rt
