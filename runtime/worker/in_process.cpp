#include "worker/in_process.h"

#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "controller/autosize.h"
#include "core/partition_map.h"
#include "core/results.h"
#include "io/files.h"
#include "scheduler/local_scheduler.h"

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

}  // namespace

int run_in_process(const Program& program, void* params, int workers, int threads, double slowdown,
                   const std::string& results) {
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
    config.slowdown = slowdown;
    schedulers.push_back(std::make_unique<LocalScheduler>(program, params, config, outputs));
    peers.workers.push_back(schedulers.back().get());
  }
  std::vector<RunStats> stats(workers);
  std::string failure;
  std::mutex failure_mutex;
  std::vector<std::thread> running;
  for (int w = 0; w < workers; ++w)
    running.emplace_back([&, w] {
      try {
        stats[w] = schedulers[w]->run();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (failure.empty()) failure = e.what();
        for (auto& s : schedulers) s->stop(e.what());  // the others would wait for it forever
      }
    });
  for (std::thread& t : running) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
  Status committed = commit_files(program, params);  // the part files' commit protocol, step 3
  if (!committed.ok()) throw std::runtime_error(committed.why());

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
    for (std::uint64_t t : s.tasks_per_thread) per_thread.push_back(t);
  }
  nlohmann::ordered_json json = stats_json(program, params, elapsed, summaries, 0);
  json["tasks_per_thread"] = per_thread;
  json["threads_per_worker"] = threads;
  json["stage_instances"] = stats.front().stage_instances;
  std::uint64_t tasks = json["tasks"];
  return report_results(
      program, outputs, json, results, elapsed, tasks,
      std::to_string(workers) + " worker(s) x " + std::to_string(threads) + " thread(s) in one process");
}

}  // namespace canary::rt
