#include "scheduler.h"

#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>

namespace canary::rt {

void Outputs::add(int stage, int index, const std::string& key, std::string json) {
  std::lock_guard<std::mutex> lock(mutex_);
  Values& v = values_[key];
  v.list = !program_.stages[stage].partitions_is_one;
  stage_of_[key] = stage;
  v.by_index[index] = std::move(json);
}

std::string Outputs::to_json() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{";
  for (const auto& [key, v] : values_) {
    if (out.size() > 1) out += ", ";
    detail::append_json_string(out, key);
    out += ": ";
    if (!v.list) {
      out += v.by_index.begin()->second;
      continue;
    }
    out += "[";
    int next = 0;
    for (const auto& [index, json] : v.by_index) {
      for (; next < index; ++next) out += next ? ", null" : "null";  // partitions that said nothing
      out += next++ ? ", " : "";
      out += json;
    }
    out += "]";
  }
  return out + "}";
}

std::vector<Outputs::Entry> Outputs::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Entry> out;
  for (const auto& [key, v] : values_)
    for (const auto& [index, json] : v.by_index) out.push_back({key, stage_of_.at(key), index, json});
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
// signal's evaluation are the single task on partition 0 of their dataset.
struct StageShape {
  std::vector<int> main_touches;
  std::vector<int> single_touches;
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
  return shape;
}

// Where a shard's messages arrive: the only thing shards share, locked once
// per batch of messages, never per task.
class Inbox {
 public:
  void push(Message m) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(m));
      pending_.store(true, std::memory_order_release);
    }
    ready_.notify_one();
  }
  bool has_messages() const { return pending_.load(std::memory_order_acquire); }
  std::deque<Message> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.store(false, std::memory_order_relaxed);
    return std::exchange(queue_, {});
  }
  void wait(const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || stop.load(); });
  }
  void wake() {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Message> queue_;
  std::atomic<bool> pending_{false};
};

constexpr std::uint64_t kNoSeq = ~0ULL;

}  // namespace

struct LocalScheduler::Impl {
  class Shard;

  Impl(const Program& p, const void* params, RunConfig c, Outputs& o) : program(p), config(c), outputs(o) {
    std::vector<int> loop_counts;
    program.evaluate_counts(params, partitions_of, loop_counts);
    counts = loop_counts;
    int groups = 0;
    for (std::size_t d = 0; d < program.datasets.size(); ++d) {
      if (partitions_of[d] < 1)
        throw std::runtime_error("dataset '" + program.datasets[d].name + "' would have " +
                                 std::to_string(partitions_of[d]) + " partitions; it needs at least 1");
      groups = std::max(groups, program.group_of[d] + 1);
    }
    if (!config.map) {
      single_map = PartitionMap::single(program, partitions_of);
      config.map = &single_map;
    }
    groups_ = groups;
    std::string error = check_map(*config.map);
    if (!error.empty()) throw std::runtime_error(error);
    // Partition i of every dataset of a group lives on one worker (the map)
    // and there on one shard: a worker deals its partitions round-robin.
    shard_of.assign(groups, {});
    int next = 0;
    for (int g = 0; g < groups; ++g)
      for (int w : config.map->owner[g])
        shard_of[g].push_back(w == config.worker ? next++ % config.threads : -1);
    local_shards_of.assign(program.datasets.size(), {});
    data.assign(program.datasets.size(), {});
    for (std::size_t d = 0; d < program.datasets.size(); ++d)
      for (int i = 0; i < partitions_of[d]; ++i) {
        int s = shard_of[program.group_of[d]][i];
        if (s >= 0 &&
            std::find(local_shards_of[d].begin(), local_shards_of[d].end(), s) == local_shards_of[d].end())
          local_shards_of[d].push_back(s);
        data[d].push_back(s >= 0 ? program.datasets[d].ops->create() : nullptr);
      }
    std::atomic_store(&routing_, std::make_shared<const Routing>(make_routing(*config.map)));
    workers = std::max(routing()->workers, config.worker + 1);
    for (const StageInfo& s : program.stages) {
      shapes.push_back(shape_of(s));
      stage_hash.push_back(stage_name_hash(s.name));
    }
    // Messages may be delivered before run() starts the threads.
    for (int i = 0; i < config.threads; ++i) shards.push_back(std::make_unique<Shard>(*this, i));
  }

  ~Impl() {
    for (std::size_t d = 0; d < data.size(); ++d)
      for (void* p : data[d])
        if (p) program.datasets[d].ops->destroy(p);
  }

  // The local shard holding a partition, or -1 when another worker has it.
  int shard_of_partition(int dataset, int index) const { return shard_of[program.group_of[dataset]][index]; }

  // The map as this worker knows it now: shards read a snapshot without
  // locking; an update swaps in a new one.
  struct Routing {
    std::vector<std::vector<int>> owner;              // [group][partition] -> worker
    std::vector<std::vector<std::uint64_t>> version;  // [group][partition]
    std::vector<std::vector<int>> workers_of;         // [dataset] -> the workers holding some of it
    int workers = 1;
    int worker_of(int group, int i) const { return owner[group][i]; }
  };
  Routing make_routing(const PartitionMap& map) const {
    Routing r;
    r.owner = map.owner;
    r.version = map.version;
    r.workers_of.assign(program.datasets.size(), {});
    for (std::size_t d = 0; d < program.datasets.size(); ++d)
      for (int w : map.owner[program.group_of[d]]) {
        std::vector<int>& list = r.workers_of[d];
        if (std::find(list.begin(), list.end(), w) == list.end()) list.push_back(w);
        r.workers = std::max(r.workers, w + 1);
      }
    return r;
  }
  std::shared_ptr<const Routing> routing() const { return std::atomic_load(&routing_); }
  std::string check_map(const PartitionMap& map) const {
    if (static_cast<int>(map.owner.size()) != groups_ || map.version.size() != map.owner.size())
      return "the partition map has the wrong number of groups";
    for (std::size_t d = 0; d < program.datasets.size(); ++d) {
      int g = program.group_of[d];
      if (static_cast<int>(map.owner[g].size()) != partitions_of[d] ||
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
  // goes to its shard; one for a partition held elsewhere is held when the
  // sender's map entry is newer than ours (ours will catch up), and else
  // forwarded to the owner our map names.
  void accept(Message m);
  // Fans a message whose parts are all local out to the shards they concern.
  void dispatch(Message m);
  void to_shard(int shard, Message m);

  // Whether a message from another worker makes sense: its partitions and
  // sender exist. Where they are held is accept()'s business.
  std::string check_remote(const Message& m) const {
    const StageInfo& s = program.stages[m.stage];
    auto sender_ok = [&](int d) { return m.sender >= 0 && m.sender < partitions_of[d]; };
    auto parts_in = [&](int d, bool only_first) {
      for (const Message::Part& p : m.parts)
        if (p.partition < 0 || p.partition >= (only_first ? 1 : partitions_of[d])) return false;
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
    if (workers == 1 && finished < config.threads && waiting + finished == config.threads &&
        in_flight.load() == 0)
      fail("internal error: every shard is waiting and no message is on its way");
    if (finished == config.threads) wake_all();
  }

  RunStats run();

  const Program& program;
  RunConfig config;
  Outputs& outputs;
  std::vector<int> partitions_of;  // per dataset
  std::vector<int> counts;         // per block: loop counts
  std::vector<StageShape> shapes;  // per stage
  std::vector<std::uint64_t> stage_hash;
  PartitionMap single_map;
  int groups_ = 0;
  std::shared_ptr<const Routing> routing_;        // atomic_load / atomic_store only
  std::vector<std::vector<int>> shard_of;         // [group][partition] -> local shard, or -1
  std::vector<std::vector<int>> local_shards_of;  // [dataset] -> the local shards holding some of it
  int workers = 1;
  std::mutex held_mutex;
  std::vector<Message> held_messages;  // parts waiting for this worker's map to catch up
  std::atomic<std::uint64_t> forwarded_parts{0}, held_parts{0};
  std::vector<std::vector<void*>> data;  // [dataset][partition], touched only by the owning shard
  std::vector<std::unique_ptr<Shard>> shards;

  const std::chrono::steady_clock::time_point made_at = std::chrono::steady_clock::now();
  const std::uint64_t made_at_tsc = __rdtsc();
  std::atomic<bool> stop{false};
  std::atomic<int> in_flight{0};  // messages sent and not yet handled
  std::mutex failure_mutex;
  std::string failure;
  std::mutex idle_mutex;
  int waiting = 0;
  int finished = 0;
};

class LocalScheduler::Impl::Shard {
 public:
  Shard(Impl& job, int id) : job_(job), program_(job.program), id_(id) {
    for (std::size_t d = 0; d < program_.datasets.size(); ++d) {
      done_.emplace_back(job.partitions_of[d], 0);
      accesses_.emplace_back();
      access_base_.push_back(0);
    }
    frames_.push_back({&program_.body});
  }

  Inbox& inbox() { return inbox_; }
  std::uint64_t tasks() const { return tasks_.load(std::memory_order_relaxed); }
  double thread_cpu_s() const { return thread_cpu_s_; }
  std::uint64_t body_ticks() const { return body_ticks_.load(std::memory_order_relaxed); }
  std::uint64_t stage_instances() const { return next_seq_; }

  void main_loop() {
    double cpu_start = thread_cpu_seconds();
    try {
      loop();
    } catch (const std::exception& e) {
      job_.fail(e.what());
    }
    thread_cpu_s_ = thread_cpu_seconds() - cpu_start;
  }

 private:
  // One dynamic execution of a stage, as far as this shard is concerned.
  struct Instance {
    int stage = -1;
    std::uint64_t seq = 0;
    std::vector<int> iterations;  // of the enclosing loops, outermost first
    int main_tasks = 0;           // over all shards
    std::vector<int> local_main;  // the main tasks' partitions owned here
    bool local_single = false;
    int tasks_total = 0;  // here
    int tasks_done = 0;
    std::vector<std::pair<int, std::uint64_t>> positions;  // (dataset, its access number)
    std::vector<std::uint8_t> spawned;                     // by partition; main_tasks is the single task
    std::uint64_t source = kNoSeq;                         // a gather's scatter
    int source_senders = 0;                                // how many tasks that scatter has

    bool complete() const { return tasks_done == tasks_total; }
    std::uint64_t position_of(int dataset) const {
      for (const auto& [d, p] : positions)
        if (d == dataset) return p;
      return kNoSeq;
    }
  };
  struct TaskRef {
    Instance* instance;
    int slot;  // a partition index, or main_tasks for the single task
  };
  // What arrived for one stage instance (keyed by its sequence number).
  struct Inbound {
    std::map<int, std::vector<std::pair<int, std::string>>> chunks;  // partition -> (sender, values)
    std::vector<std::pair<int, std::string>> inputs;                 // reduce: (sender, value)
    std::string value;                                               // broadcast
    bool has_value = false;
    bool has_signal = false;
    bool signal = false;
  };
  // A block being unrolled: where in which node list, and which iteration.
  struct Frame {
    const std::vector<Node>* nodes;
    std::size_t next = 0;
    int block = -1;  // -1: the job body
    int iteration = 0;
    int count = 0;  // loops
  };

  void loop() {
    while (!job_.stop) {
      if (inbox_.has_messages()) {
        for (Message& m : inbox_.take()) {
          handle(std::move(m));
          --job_.in_flight;
        }
      }
      unroll();
      if (!ready_.empty()) {
        TaskRef t = ready_.front();
        ready_.pop_front();
        run(t);
        continue;
      }
      if (frames_.empty() && window_.empty()) {
        job_.check_progress(0, 1);
        return;
      }
      job_.check_progress(1, 0);
      inbox_.wait(job_.stop);
      job_.check_progress(-1, 0);
    }
  }

  // --- the unroller ---------------------------------------------------------

  std::vector<int> iteration_vector() const {
    std::vector<int> out;
    for (const Frame& f : frames_)
      if (f.block >= 0 && program_.blocks[f.block].kind != BlockKind::If) out.push_back(f.iteration);
    return out;
  }

  // Issues stage instances until the window is full, a signal must be
  // waited for, or the program ends.
  void unroll() {
    if (waiting_signal_ != kNoSeq && !signal_known()) return;
    while (waiting_signal_ == kNoSeq && !frames_.empty() && unfinished_ < job_.config.window) {
      Frame& f = frames_.back();
      if (f.next < f.nodes->size()) {
        const Node node = (*f.nodes)[f.next++];
        if (!node.is_block) {
          issue(node.id);
        } else {
          enter(node.id);
        }
        continue;
      }
      if (f.block < 0) {
        frames_.pop_back();  // the end of the job body
        continue;
      }
      const BlockInfo& b = program_.blocks[f.block];
      if (b.kind == BlockKind::Loop && ++f.iteration < f.count) {
        f.next = 0;
      } else if (b.kind == BlockKind::While) {
        ++f.iteration;
        await_signal(f.block);  // decides whether the body runs again
      } else {
        frames_.pop_back();
      }
    }
  }

  void enter(int block) {
    const BlockInfo& b = program_.blocks[block];
    if (b.kind == BlockKind::Loop) {
      if (job_.counts[block] > 0) frames_.push_back({&b.body, 0, block, 0, job_.counts[block]});
      return;
    }
    if (b.kind == BlockKind::While) frames_.push_back({&b.body, b.body.size(), block, 0, 0});
    await_signal(block);
  }

  void await_signal(int block) {
    waiting_block_ = block;
    waiting_signal_ = issue(program_.blocks[block].signal);
    signal_known();
  }

  // Continues the unrolling once the awaited signal's value has arrived.
  bool signal_known() {
    auto it = inbound_.find(waiting_signal_);
    if (it == inbound_.end() || !it->second.has_signal) return false;
    bool value = it->second.signal;
    inbound_.erase(it);
    waiting_signal_ = kNoSeq;
    const BlockInfo& b = program_.blocks[waiting_block_];
    if (b.kind == BlockKind::While) {  // its frame is on top: nothing is unrolled while a signal is awaited
      if (value) {
        frames_.back().next = 0;
      } else {
        frames_.pop_back();
      }
    } else {
      frames_.push_back({value ? &b.body : &b.else_body, 0, waiting_block_, 0, 0});
    }
    return true;
  }

  // Returns the instance's sequence number: the instance itself may already
  // be retired, when this shard has no task in it.
  std::uint64_t issue(int stage) {
    const StageInfo& s = program_.stages[stage];
    const StageShape& shape = job_.shapes[stage];
    auto owned = std::make_unique<Instance>();
    Instance* in = owned.get();
    in->stage = stage;
    in->seq = next_seq_++;
    in->iterations = iteration_vector();
    in->main_tasks = shape.main_partitions_of >= 0 ? job_.partitions_of[shape.main_partitions_of] : 0;
    for (int i = 0; i < in->main_tasks; ++i)
      if (job_.shard_of_partition(shape.main_partitions_of, i) == id_) in->local_main.push_back(i);
    in->local_single = shape.has_single && job_.shard_of_partition(shape.single_touches.front(), 0) == id_;
    in->tasks_total = static_cast<int>(in->local_main.size()) + (in->local_single ? 1 : 0);
    in->spawned.assign(in->main_tasks + 1, 0);
    if (!in->local_main.empty())
      for (int d : shape.main_touches) add_access(in, d);
    if (in->local_single)
      for (int d : shape.single_touches) add_access(in, d);
    if (s.kind == StageKind::Scatter) pending_scatter_[s.to] = {in->seq, in->main_tasks};
    if (s.kind == StageKind::Gather) {
      auto it = pending_scatter_.find(s.writes[0]);
      if (it == pending_scatter_.end())
        throw std::logic_error("gather '" + s.name +
                               "' has no scatter; canaryc should have refused this job");
      std::tie(in->source, in->source_senders) = it->second;
      pending_scatter_.erase(it);
    }
    if (s.kind == StageKind::Gather || s.kind == StageKind::Reduce || s.kind == StageKind::Broadcast)
      awaiting_[s.kind == StageKind::Gather ? in->source : in->seq] = in;
    window_.push_back(std::move(owned));
    if (!in->complete()) ++unfinished_;
    for (int i : in->local_main) try_spawn(in, i);
    if (in->local_single) try_spawn(in, in->main_tasks);
    std::uint64_t seq = in->seq;
    retire();
    return seq;
  }

  void add_access(Instance* in, int d) {
    in->positions.emplace_back(d, access_base_[d] + accesses_[d].size());
    accesses_[d].push_back(in);
  }

  // --- readiness --------------------------------------------------------------

  bool ready(const Instance* in, int slot) {
    const StageShape& shape = job_.shapes[in->stage];
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
    if (in->spawned[slot] || !ready(in, slot)) return;
    in->spawned[slot] = 1;
    ready_.push_back({in, slot});
  }

  void try_spawn_all(Instance* in) {
    for (int i : in->local_main) try_spawn(in, i);
    if (in->local_single) try_spawn(in, in->main_tasks);
  }

  // --- messages ---------------------------------------------------------------

  void handle(Message m) {
    Inbound& in = inbound_[m.seq];
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
        in.has_signal = true;
        in.signal = m.signal;
        return;
    }
    if (auto it = awaiting_.find(m.seq); it != awaiting_.end()) try_spawn_all(it->second);
  }

  // --- running a task -----------------------------------------------------------

  void run(TaskRef t) {
    Instance* in = t.instance;
    try {
      std::uint64_t ticks = execute(in, t.slot);
      if (job_.config.slowdown > 1) {  // busy, as a slower machine would be
        std::uint64_t until = __rdtsc() + static_cast<std::uint64_t>(ticks * (job_.config.slowdown - 1));
        while (__rdtsc() < until) {
        }
        ticks = static_cast<std::uint64_t>(ticks * job_.config.slowdown);
      }
      body_ticks_.store(body_ticks_.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
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
    std::uint64_t seed = task_seed(job_.stage_hash[in->stage], index, in->iterations);
    int iteration = in->iterations.empty() ? 0 : in->iterations.back();
    Task task(in->stage, index, single ? 1 : in->main_tasks, iteration, seed, &job_.outputs);
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
        RowSink sink(job_.partitions_of[s.to]);
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
            if (r->worker_of(g, j) == w) m.parts.push_back({j, r->version[g][j], std::move(sink.row[j])});
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
          job_.to_worker(r->worker_of(g, 0), std::move(m));
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
              if (r->worker_of(g, j) == w) part.parts.push_back({j, r->version[g][j], ""});
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
        for (int w = 0; w < job_.routing()->workers; ++w) job_.to_worker(w, m);
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

  // --- completion -----------------------------------------------------------------

  void complete(Instance* in, int slot) {
    const StageShape& shape = job_.shapes[in->stage];
    bool single = slot == in->main_tasks;
    for (int d : single ? shape.single_touches : shape.main_touches) advance(d, single ? 0 : slot);
    tasks_.store(tasks_.load(std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);  // only this thread writes
    if (++in->tasks_done == in->tasks_total) --unfinished_;
    retire();
  }

  // The next access of partition `index` of dataset `d`, if issued yet.
  void advance(int d, int index) {
    std::uint64_t position = ++done_[d][index];
    std::uint64_t offset = position - access_base_[d];
    if (offset >= accesses_[d].size()) return;
    Instance* next = accesses_[d][offset];
    const StageShape& shape = job_.shapes[next->stage];
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
      StageKind kind = program_.stages[front->stage].kind;
      if (kind == StageKind::Gather) {
        awaiting_.erase(front->source);
        inbound_.erase(front->source);
      } else if (kind == StageKind::Reduce || kind == StageKind::Broadcast) {
        awaiting_.erase(front->seq);
        inbound_.erase(front->seq);
      }
      window_.pop_front();
    }
  }

  Impl& job_;
  const Program& program_;
  int id_;
  Inbox inbox_;

  std::vector<Frame> frames_;
  std::uint64_t next_seq_ = 0;
  int unfinished_ = 0;  // issued instances with local tasks left
  std::uint64_t waiting_signal_ = kNoSeq;
  int waiting_block_ = -1;
  std::map<int, std::pair<std::uint64_t, int>> pending_scatter_;  // destination -> (scatter seq, senders)

  std::vector<std::vector<std::uint64_t>> done_;  // [dataset][partition]: accesses completed (owned ones)
  std::vector<std::deque<Instance*>> accesses_;   // per dataset: issued accesses not yet retired
  std::vector<std::uint64_t> access_base_;        // per dataset: the access number of accesses_.front()
  std::deque<std::unique_ptr<Instance>> window_;  // issued, not yet retired, in issue order
  std::deque<TaskRef> ready_;
  std::unordered_map<std::uint64_t, Inbound> inbound_;
  std::unordered_map<std::uint64_t, Instance*> awaiting_;  // instances that wait for messages, by seq
  std::vector<void*> parts_;

  // Written by this shard's thread only; atomic so load reports can read them.
  std::atomic<std::uint64_t> tasks_{0};
  std::atomic<std::uint64_t> body_ticks_{0};
  double thread_cpu_s_ = 0;
};

void LocalScheduler::Impl::wake_all() {
  for (auto& s : shards) s->inbox().wake();
}

void LocalScheduler::Impl::to_shard(int shard, Message m) {
  ++in_flight;
  shards[shard]->inbox().push(std::move(m));
}

void LocalScheduler::Impl::accept(Message m) {
  int d = target_dataset(m);
  if (m.kind == Message::Kind::Signal || d < 0) {
    dispatch(std::move(m));
    return;
  }
  auto r = routing();
  int g = program.group_of[d];
  Message local(m.kind, m.seq, m.stage, m.sender), later = local;
  std::map<int, Message> onward;  // by worker
  for (Message::Part& p : m.parts) {
    if (shard_of_partition(d, p.partition) >= 0) {
      local.parts.push_back(std::move(p));
    } else if (p.version > r->version[g][p.partition]) {
      later.parts.push_back(std::move(p));
    } else {
      int w = r->worker_of(g, p.partition);
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
    held_parts += later.parts.size();
    std::lock_guard<std::mutex> lock(held_mutex);
    held_messages.push_back(std::move(later));
  }
  if (!local.parts.empty()) dispatch(std::move(local));
}

void LocalScheduler::Impl::dispatch(Message m) {
  const StageInfo& stage = program.stages[m.stage];
  auto for_shards = [&](int d) {
    std::map<int, Message> by_shard;
    for (Message::Part& p : m.parts) {
      auto it =
          by_shard.try_emplace(shard_of_partition(d, p.partition), m.kind, m.seq, m.stage, m.sender).first;
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
      to_shard(shard_of_partition(stage.writes[0], 0), std::move(m));
      break;
    case Message::Kind::BroadcastValue:
      for_shards(stage.writes[0]);
      break;
    case Message::Kind::Signal:
      for (int shard = 0; shard < config.threads; ++shard) to_shard(shard, m);
      break;
  }
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

RunStats LocalScheduler::Impl::run() {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (auto& s : shards) threads.emplace_back([&s] { s->main_loop(); });
  for (std::thread& t : threads) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
  RunStats stats;
  stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double hz = tsc_hz();
  double thread_cpu = 0;
  for (auto& s : shards) {
    stats.tasks += s->tasks();
    stats.tasks_per_thread.push_back(s->tasks());
    stats.task_cpu_s += s->body_ticks() / hz;
    thread_cpu += s->thread_cpu_s();
    stats.stage_instances = s->stage_instances();
  }
  stats.scheduler_cpu_s = std::max(0.0, thread_cpu - stats.task_cpu_s);
  return stats;
}

LocalScheduler::LocalScheduler(const Program& program, const void* params, RunConfig config, Outputs& outputs)
    : impl_(std::make_unique<Impl>(program, params, config, outputs)) {}
LocalScheduler::~LocalScheduler() = default;
RunStats LocalScheduler::run() { return impl_->run(); }
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
  PartitionMap merged{old->owner, old->version};
  for (std::size_t g = 0; g < map.owner.size(); ++g)
    for (std::size_t i = 0; i < map.owner[g].size(); ++i) {
      if (map.version[g][i] <= merged.version[g][i]) continue;  // not newer than what we know
      bool mine_before = merged.owner[g][i] == j.config.worker,
           mine_after = map.owner[g][i] == j.config.worker;
      if (mine_before != mine_after)
        return "the map moves partition " + std::to_string(i) + " of group " + std::to_string(g) +
               " to or from this worker, which needs a migration";
      merged.owner[g][i] = map.owner[g][i];
      merged.version[g][i] = map.version[g][i];
    }
  std::atomic_store(&j.routing_, std::make_shared<const Impl::Routing>(j.make_routing(merged)));
  std::vector<Message> held;
  {
    std::lock_guard<std::mutex> lock(j.held_mutex);
    held.swap(j.held_messages);
  }
  for (Message& m : held) j.accept(std::move(m));
  return "";
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

std::uint64_t LocalScheduler::forwarded() const { return impl_->forwarded_parts; }
std::uint64_t LocalScheduler::held() const { return impl_->held_parts; }
void LocalScheduler::stop(const std::string& reason) { impl_->fail(reason); }

}  // namespace canary::rt
