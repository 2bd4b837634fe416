#include "scheduler.h"

#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <stdexcept>
#include <thread>

namespace canary::rt {

void Outputs::add(int stage, int index, const std::string& key, std::string json) {
  std::lock_guard<std::mutex> lock(mutex_);
  Values& v = values_[key];
  v.list = !program_.stages[stage].partitions_is_one;
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

}  // namespace

struct LocalScheduler::Impl {
  // One dynamic execution of a stage: the unit the unroller issues.
  struct Instance {
    int stage = -1;
    std::uint64_t seq = 0;
    std::vector<int> iterations;  // of the enclosing loops, outermost first
    int main_tasks = 0;
    int tasks_total = 0;
    int tasks_done = 0;
    std::vector<std::pair<int, std::uint64_t>> positions;  // (dataset, its access number)
    std::vector<std::uint8_t> spawned;  // per task slot; slot main_tasks is the single task
    // Producer/consumer bookkeeping for chunks, reductions and broadcasts.
    int producers_total = 0;
    int producers_done = 0;
    Instance* source = nullptr;                    // a gather's scatter
    Instance* consumer = nullptr;                  // a scatter's gather
    std::vector<std::vector<std::string>> outbox;  // [sender][destination] serialized values
    std::string value;                             // a broadcast's serialized source
    bool signal_value = false;

    bool complete() const { return tasks_done == tasks_total; }
    std::uint64_t position_of(int dataset) const {
      for (const auto& [d, p] : positions)
        if (d == dataset) return p;
      return ~0ULL;
    }
  };
  struct TaskRef {
    Instance* instance;
    int slot;
  };
  // A block being unrolled: where in which node list, and which iteration.
  struct Frame {
    const std::vector<Node>* nodes;
    std::size_t next = 0;
    int block = -1;  // -1: the job body
    int iteration = 0;
    int count = 0;  // loops
  };

  Impl(const Program& p, const void* params, RunConfig c, Outputs& o) : program(p), config(c), outputs(o) {
    std::vector<int> loop_counts;
    program.evaluate_counts(params, partitions_of, loop_counts);
    counts = loop_counts;
    for (std::size_t d = 0; d < program.datasets.size(); ++d) {
      if (partitions_of[d] < 1)
        throw std::runtime_error("dataset '" + program.datasets[d].name + "' would have " +
                                 std::to_string(partitions_of[d]) + " partitions; it needs at least 1");
      data.emplace_back();
      for (int i = 0; i < partitions_of[d]; ++i) data.back().push_back(program.datasets[d].ops->create());
      done.emplace_back(partitions_of[d], 0);
      accesses.emplace_back();
      access_base.push_back(0);
    }
    for (const StageInfo& s : program.stages) shapes.push_back(shape_of(s));
    frames.push_back({&program.body});
  }

  ~Impl() {
    for (std::size_t d = 0; d < data.size(); ++d)
      for (void* p : data[d]) program.datasets[d].ops->destroy(p);
  }

  // --- the unroller (called with the lock held) ----------------------------

  std::vector<int> iteration_vector() const {
    std::vector<int> out;
    for (const Frame& f : frames)
      if (f.block >= 0 && program.blocks[f.block].kind != BlockKind::If) out.push_back(f.iteration);
    return out;
  }

  Instance* issue(int stage) {
    const StageInfo& s = program.stages[stage];
    const StageShape& shape = shapes[stage];
    auto owned = std::make_unique<Instance>();
    Instance* in = owned.get();
    in->stage = stage;
    in->seq = next_seq++;
    in->iterations = iteration_vector();
    in->main_tasks = shape.main_partitions_of >= 0 ? partitions_of[shape.main_partitions_of] : 0;
    in->tasks_total = in->main_tasks + (shape.has_single ? 1 : 0);
    in->spawned.assign(in->tasks_total, 0);
    for (const std::vector<int>* touches : {&shape.main_touches, &shape.single_touches})
      for (int d : *touches) {
        in->positions.push_back({d, access_base[d] + accesses[d].size()});
        accesses[d].push_back(in);
      }
    switch (s.kind) {
      case StageKind::Scatter:
        in->producers_total = in->main_tasks;
        in->outbox.assign(in->main_tasks, std::vector<std::string>(partitions_of[s.to]));
        pending_scatter[s.to] = in;
        break;
      case StageKind::Gather: {
        auto it = pending_scatter.find(s.writes[0]);
        if (it == pending_scatter.end())
          throw std::logic_error("gather '" + s.name +
                                 "' has no scatter; canaryc should have refused this job");
        in->source = it->second;
        in->source->consumer = in;
        pending_scatter.erase(it);
        break;
      }
      case StageKind::Reduce:
        in->producers_total = in->main_tasks;
        in->outbox.assign(in->main_tasks, std::vector<std::string>(1));
        break;
      case StageKind::Broadcast:
        in->producers_total = 1;
        break;
      default:
        break;
    }
    window.push_back(std::move(owned));
    if (!in->complete()) ++unfinished;
    ++stats.stage_instances;
    for (int slot = 0; slot < in->tasks_total; ++slot) try_spawn(in, slot);
    return in;
  }

  // Issues stage instances until the window is full, a signal must be
  // waited for, or the program ends.
  void unroll() {
    while (!waiting_signal && !frames.empty() && unfinished < config.window) {
      Frame& f = frames.back();
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
        frames.pop_back();  // the end of the job body
        continue;
      }
      const BlockInfo& b = program.blocks[f.block];
      if (b.kind == BlockKind::Loop && ++f.iteration < f.count) {
        f.next = 0;
      } else if (b.kind == BlockKind::While) {
        ++f.iteration;
        waiting_block = f.block;
        waiting_signal = issue(b.signal);  // decides whether the body runs again
        finish_signal_if_known();
      } else {
        frames.pop_back();
      }
    }
  }

  void enter(int block) {
    const BlockInfo& b = program.blocks[block];
    if (b.kind == BlockKind::Loop) {
      if (counts[block] > 0) frames.push_back({&b.body, 0, block, 0, counts[block]});
      return;
    }
    // while and if: the body is chosen by the signal's value.
    if (b.kind == BlockKind::While) frames.push_back({&b.body, b.body.size(), block, 0, 0});
    waiting_block = block;
    waiting_signal = issue(b.signal);
    finish_signal_if_known();
  }

  // Continues the unrolling once the awaited signal's value is known.
  void finish_signal_if_known() {
    if (!waiting_signal || !waiting_signal->complete()) return;
    bool value = waiting_signal->signal_value;
    waiting_signal = nullptr;
    const BlockInfo& b = program.blocks[waiting_block];
    if (b.kind == BlockKind::While) {  // its frame is on top: nothing is unrolled while a signal is awaited
      if (value) {
        frames.back().next = 0;
      } else {
        frames.pop_back();
      }
      return;
    }
    const std::vector<Node>& arm = value ? b.body : b.else_body;
    int iteration = frames.empty() ? 0 : frames.back().iteration;
    frames.push_back({&arm, 0, waiting_block, iteration, 0});
  }

  // --- readiness (called with the lock held) --------------------------------

  bool ready(const Instance* in, int slot) const {
    const StageShape& shape = shapes[in->stage];
    bool single = slot == in->main_tasks;
    int index = single ? 0 : slot;
    for (int d : single ? shape.single_touches : shape.main_touches)
      if (done[d][index] != in->position_of(d)) return false;
    switch (program.stages[in->stage].kind) {
      case StageKind::Gather:
        return in->source->producers_done == in->source->producers_total;
      case StageKind::Reduce:
        return !single || in->producers_done == in->producers_total;
      case StageKind::Broadcast:
        return single || in->producers_done == 1;
      default:
        return true;
    }
  }

  void try_spawn(Instance* in, int slot) {
    if (in->spawned[slot] || !ready(in, slot)) return;
    in->spawned[slot] = 1;
    queue.push_back({in, slot});
    work_ready.notify_one();
  }

  // The next access of partition `index` of dataset `d`, if issued yet.
  void advance(int d, int index) {
    std::uint64_t position = ++done[d][index];
    std::uint64_t offset = position - access_base[d];
    if (offset >= accesses[d].size()) return;
    Instance* next = accesses[d][offset];
    const StageShape& shape = shapes[next->stage];
    bool main =
        std::find(shape.main_touches.begin(), shape.main_touches.end(), d) != shape.main_touches.end();
    try_spawn(next, main ? index : next->main_tasks);
  }

  void complete(Instance* in, int slot) {
    const StageShape& shape = shapes[in->stage];
    bool single = slot == in->main_tasks;
    for (int d : single ? shape.single_touches : shape.main_touches) advance(d, single ? 0 : slot);
    StageKind kind = program.stages[in->stage].kind;
    bool produced = (kind == StageKind::Scatter || kind == StageKind::Reduce) ? !single
                    : kind == StageKind::Broadcast                            ? single
                                                                              : false;
    if (produced && ++in->producers_done == in->producers_total) {
      if (kind == StageKind::Scatter && in->consumer)
        for (int s = 0; s < in->consumer->main_tasks; ++s) try_spawn(in->consumer, s);
      if (kind == StageKind::Reduce) try_spawn(in, in->main_tasks);
      if (kind == StageKind::Broadcast)
        for (int s = 0; s < in->main_tasks; ++s) try_spawn(in, s);
    }
    ++in->tasks_done;
    ++stats.tasks;
    if (in->complete()) --unfinished;
    if (in == waiting_signal) finish_signal_if_known();
    retire();
    unroll();
    if (frames.empty() && window.empty()) work_ready.notify_all();
    if (queue.empty() && running == 0 && !(frames.empty() && window.empty()))
      fail("internal error: no task can run but the job is not finished (stage instance " +
           std::to_string(window.front()->seq) + ", stage '" + program.stages[window.front()->stage].name +
           "')");
  }

  // Frees finished instances from the front of the window, in issue order.
  void retire() {
    while (!window.empty()) {
      Instance* front = window.front().get();
      if (!front->complete()) return;
      if (program.stages[front->stage].kind == StageKind::Scatter &&
          (!front->consumer || !front->consumer->complete()))
        return;
      for (const auto& [d, position] : front->positions) {
        accesses[d].pop_front();
        ++access_base[d];
        (void)position;
      }
      window.pop_front();
    }
  }

  // --- running tasks (without the lock) --------------------------------------

  // Runs one task; returns the TSC ticks spent in its body (the user's
  // function, or the copying a runtime-only task does), the rest being the
  // scheduler's.
  std::uint64_t execute(Instance* in, int slot) {
    const StageInfo& s = program.stages[in->stage];
    bool single = slot == in->main_tasks;
    int index = single ? 0 : slot;
    int stage_partitions = single ? 1 : in->main_tasks;
    std::uint64_t seed = task_seed(s.name, index, in->iterations);
    int iteration = in->iterations.empty() ? 0 : in->iterations.back();
    Task task(in->stage, index, stage_partitions, iteration, seed, &outputs);
    std::uint64_t start = 0;
    auto body = [&start] { start = __rdtsc(); };

    switch (s.kind) {
      case StageKind::Transform: {
        std::vector<void*>& parts = scratch_parts();
        for (int d : s.reads) parts.push_back(data[d][index]);
        for (int d : s.writes) parts.push_back(data[d][index]);
        TaskArgs args{task, parts.data()};
        body();
        s.run(args);
        break;
      }
      case StageKind::Scatter: {
        std::vector<void*>& parts = scratch_parts();
        for (int d : s.reads) parts.push_back(data[d][index]);
        OutboxSink sink(in->outbox[index]);
        TaskArgs args{task, parts.data(), &sink};
        body();
        s.run(args);
        break;
      }
      case StageKind::Gather: {
        void* part = data[s.writes[0]][index];
        TaskArgs args{task, &part};
        for (const std::vector<std::string>& from : in->source->outbox) args.chunks_in.push_back(from[index]);
        body();
        s.run(args);
        break;
      }
      case StageKind::Reduce:
        if (!single) {
          body();
          program.datasets[s.reads[0]].ops->write(data[s.reads[0]][index], in->outbox[index][0]);
        } else {
          void* part = data[s.writes[0]][0];
          TaskArgs args{task, &part};
          for (const std::vector<std::string>& from : in->outbox) args.chunks_in.push_back(from[0]);
          body();
          s.run(args);
        }
        break;
      case StageKind::Broadcast:
        body();
        if (single) {
          program.datasets[s.reads[0]].ops->write(data[s.reads[0]][0], in->value);
        } else {
          program.datasets[s.writes[0]].ops->read(in->value, data[s.writes[0]][index]);
        }
        break;
      case StageKind::Signal: {
        void* part = data[s.reads[0]][0];
        TaskArgs args{task, &part};
        body();
        s.run(args);
        in->signal_value = args.signal;
        break;
      }
    }
    return __rdtsc() - start;
  }

  // A scatter task's sends, into its own row of the outbox: no locking.
  class OutboxSink : public detail::ChunkSink {
   public:
    explicit OutboxSink(std::vector<std::string>& row) : row_(row) {}
    std::string* buffer(int destination) override {
      return destination >= 0 && destination < static_cast<int>(row_.size()) ? &row_[destination] : nullptr;
    }
    void sent(int) override {}

   private:
    std::vector<std::string>& row_;
  };

  static std::vector<void*>& scratch_parts() {
    thread_local std::vector<void*> parts;
    parts.clear();
    return parts;
  }

  // Task bodies are timed with the TSC (a few ns a read); thread CPU time,
  // a system call, is read only when the thread starts and ends.
  void compute_thread() {
    double cpu_start = thread_cpu_seconds();
    std::uint64_t body_ticks = 0;
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      work_ready.wait(lock, [&] { return !queue.empty() || failed || (frames.empty() && window.empty()); });
      if (queue.empty()) break;
      TaskRef t = queue.front();
      queue.pop_front();
      ++running;
      lock.unlock();
      std::string error;
      try {
        body_ticks += execute(t.instance, t.slot);
      } catch (const std::exception& e) {
        error = e.what();
      }
      lock.lock();
      --running;
      if (!error.empty()) {
        fail("stage '" + program.stages[t.instance->stage].name + "', partition " +
             std::to_string(t.slot == t.instance->main_tasks ? 0 : t.slot) + ": " + error);
        break;
      }
      complete(t.instance, t.slot);
    }
    thread_cpu_s += thread_cpu_seconds() - cpu_start;
    task_ticks += body_ticks;
  }

  void fail(const std::string& message) {
    if (!failed) failure = message;
    failed = true;
    queue.clear();
    work_ready.notify_all();
  }

  RunStats run() {
    auto start = std::chrono::steady_clock::now();
    std::uint64_t tsc_start = __rdtsc();
    {
      std::lock_guard<std::mutex> lock(mutex);
      unroll();
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < config.threads; ++i) threads.emplace_back([this] { compute_thread(); });
    for (std::thread& t : threads) t.join();
    if (failed) throw std::runtime_error(failure);
    if (!frames.empty() || !window.empty())
      throw std::runtime_error("the scheduler stopped with work left: a dependency can never be met");
    stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double tsc_hz = (__rdtsc() - tsc_start) / stats.elapsed_s;
    stats.task_cpu_s = task_ticks / tsc_hz;
    stats.scheduler_cpu_s = std::max(0.0, thread_cpu_s - stats.task_cpu_s);
    return stats;
  }

  const Program& program;
  RunConfig config;
  Outputs& outputs;
  std::vector<int> partitions_of;                // per dataset
  std::vector<int> counts;                       // per block: loop counts
  std::vector<StageShape> shapes;                // per stage
  std::vector<std::vector<void*>> data;          // [dataset][partition]
  std::vector<std::vector<std::uint64_t>> done;  // [dataset][partition]: accesses completed
  std::vector<std::deque<Instance*>> accesses;   // per dataset: issued accesses not yet retired
  std::vector<std::uint64_t> access_base;        // per dataset: the access number of accesses.front()

  std::mutex mutex;
  std::condition_variable work_ready;
  std::deque<TaskRef> queue;
  std::deque<std::unique_ptr<Instance>> window;  // issued, not yet retired, in issue order
  std::vector<Frame> frames;
  std::map<int, Instance*> pending_scatter;  // destination dataset -> scatter awaiting its gather
  Instance* waiting_signal = nullptr;
  int waiting_block = -1;
  std::uint64_t next_seq = 0;
  int unfinished = 0;  // issued stage instances with tasks left
  int running = 0;     // tasks being executed
  bool failed = false;
  std::string failure;
  RunStats stats;
  double thread_cpu_s = 0;       // all compute threads, start to end
  std::uint64_t task_ticks = 0;  // TSC ticks inside task bodies
};

LocalScheduler::LocalScheduler(const Program& program, const void* params, RunConfig config, Outputs& outputs)
    : impl_(std::make_unique<Impl>(program, params, config, outputs)) {}
LocalScheduler::~LocalScheduler() = default;
RunStats LocalScheduler::run() { return impl_->run(); }

}  // namespace canary::rt
