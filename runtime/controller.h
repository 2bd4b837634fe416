// The controller (DESIGN.md section 6, paper section 3.3): it waits for the
// workers to register, decides which worker holds which partition, starts
// them, and then only listens: heartbeats, failures, load reports, on which
// it moves partition groups off stragglers, and at the end each worker's
// outputs and statistics. It does nothing per task.
#pragma once

#include <canary/program.h>

#include <functional>
#include <string>
#include <vector>

namespace canary::rt {

struct ControllerOptions {
  std::string listen;               // the endpoint to bind, e.g. tcp://0.0.0.0:7100
  int expect = 1;                   // how many workers the job needs
  double timeout_s = 30;            // for registrations, and for a silent worker
  std::vector<std::string> params;  // the job's parameters as "name=value", sent to the workers
  std::string results;              // where to write the results JSON, if anywhere
  bool balance = true;              // migrate partition groups off workers that hold the others up
  // Tests: every this many milliseconds, move a random partition group to a
  // random other worker (0: never), drawing from `chaos_seed`.
  int chaos_migrate_ms = 0;
  unsigned chaos_seed = 1;
  // Tests only: this worker starts with an outdated map, in which the other
  // workers' partitions are placed wrongly at version 0, and is sent the
  // real one `stale_map_ms` later: it must forward nothing wrongly, and the
  // others must forward what it misroutes.
  int stale_map_worker = -1;
  int stale_map_ms = 0;
  // Called once the socket is bound, with its actual endpoint (a :* port
  // resolved): the embedded mode starts its workers there.
  std::function<void(const std::string&)> on_bound;
  // Called while waiting; returns an error to give up with (the embedded
  // mode uses it to notice a worker process that died).
  std::function<std::string()> watch;
};

// Runs the job on the registered workers. Returns the process exit code.
int run_controller(const Program& program, const void* params, const ControllerOptions& options);

struct PartitionMap;

// The map a job starts with: the partitions of every co-location group, as
// the parameters make them, spread over the workers in proportion to their
// compute threads (partition i of a group stays whole), every entry at
// version 1.
PartitionMap initial_map(const Program& program, const void* params,
                         const std::vector<int>& threads_per_worker);

}  // namespace canary::rt
