// The end of a run, the same in every mode: outputs on stdout, the results
// file, and one summary line on stderr.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/outputs.h"

namespace canary::rt {

// One worker's part of a run's statistics.
struct WorkerSummary {
  std::uint64_t tasks = 0;
  double scheduler_cpu_s = 0;   // compute threads' CPU time outside task bodies
  double task_cpu_s = 0;        // time inside task bodies
  std::uint64_t forwarded = 0;  // message parts passed on to their owner
  std::uint64_t held = 0;       // message parts kept until the map caught up
  std::uint64_t unused = 0;     // what arrived and was never used, at the end (RunStats)
  double process_cpu_s = 0;     // the worker process's, I/O thread included (when it says)
  std::vector<int> cpus;        // its compute threads' CPUs; empty: not pinned
  int numa_node = -1;           // the NUMA node they are, or -1
};

// The "stats" of the results, the same in every mode: totals, per worker the
// tasks it ran and where its threads ran, and the partition counts the
// parameters gave ("partitions": the canary::automatic count, or null).
nlohmann::ordered_json stats_json(const Program& program, const void* params, double elapsed_s,
                                  const std::vector<WorkerSummary>& workers, int migrations);

// Where results written to `path` go: the file its chain of symbolic links
// ends at, one that does not exist yet included. The check of --results at
// the start and the writer at the end agree on it.
std::string results_target(const std::string& path);

// Returns the exit code: 0, or 1 when the results file cannot be written.
int report_results(const Program& program, const Outputs& outputs, const nlohmann::ordered_json& stats,
                   const std::string& results_path, double elapsed_s, std::uint64_t tasks,
                   const std::string& where);

}  // namespace canary::rt
