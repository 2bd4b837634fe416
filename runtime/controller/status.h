// What people see of a running job: the controller makes one JobStatus from
// its own state and the workers' load reports, and shows it as the progress
// line on stderr, and with --http as JSON (canary-status/1, documented in
// docs/runtime.md) and in Prometheus' text format. None of it steers the job.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <deque>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/messages.h"

namespace canary::rt {

struct WorkerStatus {
  int id = 0;
  std::string endpoint;  // its data endpoint
  int pid = 0;
  int threads = 0;
  std::vector<int> cpus;  // its compute threads' CPUs; empty: not pinned
  std::string state;      // "running", "done", "joining" or "lost"
  std::uint64_t tasks = 0;
  double tasks_per_s = 0;  // over the last seconds
  double busy = 0;         // the share of its threads' time in task bodies, over the last seconds
  std::vector<std::pair<int, int>> partitions;  // (group, partition) it holds
};

struct StageStatus {
  int id = 0;
  std::string name;
  int iteration = 0;  // of the outermost loop around its newest run, from 1; 0: outside loops or not run
  int completed = 0;  // tasks of its newest run finished, one per partition
  int partitions = 0;
};

struct JobStatus {
  std::string job;
  std::string state;  // "waiting" (for workers), "running", "finished" or "failed"
  double elapsed_s = 0;
  std::vector<std::string> params;  // as given: "name=value"
  std::uint64_t epoch = 0;
  // The outermost loop the job is in: its block, iteration (from 1) and
  // count (0 for a while-loop). loop < 0: in none (yet).
  int loop = -1;
  int iteration = 0;
  int iterations = 0;
  std::uint64_t tasks = 0;
  double tasks_per_s = 0;
  int workers_alive = 0;
  int migrations = 0;
  int recoveries = 0;
  int snapshots = 0;      // completed
  int last_snapshot = 0;  // 0: none yet
  double snapshot_age_s = 0;
  std::vector<WorkerStatus> workers;
  std::vector<StageStatus> stages;
};

// Per stage: the newest run any worker reports, and the tasks of that run
// finished over all of them; then the outermost loop of the newest run
// (`status.loop`, `iteration`, `iterations`). `tasks_per_run` is
// tasks_per_run(), `loop_counts` per block.
void combine_stage_progress(const Program& program, const std::vector<int>& tasks_per_run,
                            const std::vector<int>& loop_counts,
                            const std::vector<std::vector<StageProgress>>& per_worker, JobStatus& status);

nlohmann::ordered_json status_json(const JobStatus& status);
std::string prometheus_text(const JobStatus& status);
// One line: "JOB: 12 s, iteration 37/100, 182000 tasks/s, ..., workers 2/2, ...".
std::string progress_text(const JobStatus& status);

// Rates from a worker's cumulative counters, over the last few seconds.
class RateMeter {
 public:
  void add(double now_s, std::uint64_t tasks, double busy_s, double idle_s);
  double tasks_per_s() const;
  double busy() const;

 private:
  struct Sample {
    double t;
    std::uint64_t tasks;
    double busy_s, idle_s;
  };
  std::deque<Sample> samples_;
  static constexpr double kWindowSeconds = 2;
};

// The progress line on stderr. On a terminal it is one line redrawn in
// place, at most a few times a second; otherwise a plain line every
// `every_s` seconds, for logs. Anything else written to stderr goes through
// log(), which first clears a line being redrawn.
class ProgressLine {
 public:
  ProgressLine(bool enabled, double every_s);
  void show(const std::string& text);
  std::ostream& log();
  // The job has ended: on a terminal `text` is drawn a last time and stays;
  // in a log the summary line that follows says it all.
  void end(const std::string& text);
  // show() while the job runs, end() once it has ended.
  void update(const std::string& text, bool ended);

 private:
  bool enabled_;
  bool terminal_;
  double every_s_;
  double last_s_;
  bool drawn_ = false;  // a line is on the terminal, without its newline
};

}  // namespace canary::rt
