#include "worker/in_process.h"

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "controller/autosize.h"
#include "controller/status.h"
#include "core/clock.h"
#include "core/partition_map.h"
#include "core/results.h"
#include "io/files.h"
#include "scheduler/local_scheduler.h"
#include "scheduler/plan.h"

namespace canary::rt {
namespace {

// The other workers of an in-process run: a message goes straight to the
// receiving worker's scheduler, which routes it as the network would.
class InProcessPeers : public Peers {
 public:
  void send(WorkerId worker, const Message& m) override {
    Status taken = workers[worker.value()]->deliver(m);
    if (!taken.ok())
      workers[worker.value()]->stop("internal error: a message between workers was refused: " + taken.why());
  }
  void hand_over(WorkerId worker, const Handover& h) override {
    Status taken = workers[worker.value()]->adopt(h);
    if (!taken.ok()) workers[worker.value()]->stop("internal error: a handover was refused: " + taken.why());
  }
  std::vector<LocalScheduler*> workers;
};

// Counts the workers whose run() has returned.
class Finished {
 public:
  explicit Finished(int workers) : left_(workers) {}
  void one() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--left_ == 0) all_.notify_all();
  }
  // Whether all have, waiting at most `timeout` for it.
  bool wait_for(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return all_.wait_for(lock, timeout, [&] { return left_ == 0; });
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable all_;
  int left_;
};

// The progress line while the workers run, as a controller shows it: from
// the schedulers' own counters, a few times a second, until `finished`
// says all of them are.
void show_progress(const Program& program, const void* params, const InProcessOptions& options,
                   const std::vector<std::unique_ptr<LocalScheduler>>& schedulers, const Finished& finished) {
  ProgressLine progress(!options.quiet, options.progress_every_s);
  std::vector<int> dataset_partitions, loop_counts;
  program.counts(params, dataset_partitions, loop_counts);
  std::vector<int> per_run = tasks_per_run(program, dataset_partitions);
  RateMeter rate;
  rate.add(0, 0, 0, 0);
  Clock::time_point started = Clock::now();
  JobStatus s;
  s.job = program.job;
  s.state = "running";
  s.workers.resize(schedulers.size());
  s.workers_alive = static_cast<int>(schedulers.size());
  for (bool done = false; !done;) {
    done = finished.wait_for(std::chrono::milliseconds(250));
    s.elapsed_s = seconds_since(started);
    s.tasks = 0;
    std::vector<std::vector<StageProgress>> stages;
    for (const auto& scheduler : schedulers) {
      s.tasks += scheduler->tasks_done();
      stages.push_back(scheduler->stage_progress());
    }
    rate.add(s.elapsed_s, s.tasks, 0, 0);
    s.tasks_per_s = rate.tasks_per_s();
    combine_stage_progress(program, per_run, loop_counts, stages, s);
    progress.update(progress_text(s), done);
  }
}

}  // namespace

int run_in_process(const Program& program, void* params, const InProcessOptions& options) {
  int workers = options.workers, threads = options.threads;
  std::vector<std::string> unused;  // no worker process needs the count as a flag
  std::string chosen = settle_automatic(program, params, workers * threads, unused).line;
  if (!chosen.empty()) std::cerr << program.job << ": " << chosen << "\n";
  program.bind(params);
  Outputs outputs(program);

  PartitionMap map =
      initial_map(program, params, std::vector<int>(workers, threads));  // as a controller would

  InProcessPeers peers;
  std::vector<std::unique_ptr<LocalScheduler>> schedulers;
  for (int w = 0; w < workers; ++w) {
    RunConfig config;
    config.threads = threads;
    config.worker = WorkerId(w);
    config.workers = workers;
    config.map = &map;
    config.peers = &peers;
    config.slowdown = options.slowdown;
    schedulers.push_back(std::make_unique<LocalScheduler>(program, params, config, outputs));
    peers.workers.push_back(schedulers.back().get());
  }
  std::vector<RunStats> stats(workers);
  std::string failure;
  std::mutex failure_mutex;
  std::vector<std::thread> running;
  Finished finished(workers);
  for (int w = 0; w < workers; ++w)
    running.emplace_back([&, w] {
      try {
        stats[w] = schedulers[w]->run();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (failure.empty()) failure = e.what();
        for (auto& s : schedulers) s->stop(e.what());  // the others would wait for it forever
      }
      finished.one();
    });
  show_progress(program, params, options, schedulers, finished);
  for (std::thread& t : running) t.join();
  if (failure.empty()) {
    Status committed = commit_files(program, params);  // the part files' commit protocol, step 3
    if (!committed.ok()) failure = committed.why();
  }
  if (!failure.empty()) {
    abandon_files(program, params);  // as the controller's fail(): nothing can take the job on
    throw std::runtime_error(failure);
  }

  double elapsed = 0;
  std::vector<WorkerSummary> summaries;
  nlohmann::ordered_json per_thread = nlohmann::ordered_json::array();
  for (int w = 0; w < workers; ++w) {
    const RunStats& s = stats[w];
    elapsed = std::max(elapsed, s.elapsed_s);
    WorkerSummary& summary = summaries.emplace_back();
    summary.tasks = s.tasks;
    summary.scheduler_cpu_s = s.scheduler_cpu_s;
    summary.task_cpu_s = s.task_cpu_s;
    summary.forwarded = schedulers[w]->forwarded();
    summary.held = schedulers[w]->held();
    summary.unused = s.unused_messages;
    for (std::uint64_t t : s.tasks_per_thread) per_thread.push_back(t);
  }
  nlohmann::ordered_json json = stats_json(program, params, elapsed, summaries, 0);
  json["tasks_per_thread"] = per_thread;
  json["threads_per_worker"] = threads;
  json["stage_instances"] = stats.front().stage_instances;
  std::uint64_t tasks = json["tasks"];
  return report_results(
      program, outputs, json, options.results, elapsed, tasks,
      std::to_string(workers) + " worker(s) x " + std::to_string(threads) + " thread(s) in one process");
}

}  // namespace canary::rt
