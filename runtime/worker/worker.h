// A worker process (DESIGN.md section 6): registers with the controller,
// receives the partition map and the job's parameters, runs its partitions'
// tasks on its shards, exchanges data directly with the other workers, and
// reports outputs and statistics when its part of the job ends.
#pragma once

#include <canary/program.h>

#include <optional>
#include <string>

#include "wire/auth.h"

namespace canary::rt {

struct WorkerOptions {
  std::string controller;  // the controller's endpoint, e.g. tcp://head:7100
  int threads = 1;
  std::vector<int> cpus;  // compute thread i runs on cpus[i % size] alone; empty: anywhere
  int numa_node = -1;     // the NUMA node those are, or -1
  double timeout_s = 30;  // how long the controller may stay silent
  // Then, how long to wait for one started again with --resume; < 0: 60 s
  // when the job writes snapshots (without, it cannot be resumed), else 0.
  double controller_grace_s = -1;
  std::string host;                        // how the other workers reach this one; empty: guessed
  std::string listen;                      // where to bind the data socket; empty: any free port
  std::optional<Credentials> credentials;  // see auth.h; none: no authentication
  bool insecure = false;                   // without keys, may listen beyond loopback
  bool embedded = false;                   // the embedded default's: its controller says what failed
  double slowdown = 1;                     // tests: task bodies take this many times as long
  // Fault tests: the worker kills itself (SIGKILL) once its shards have
  // written their first partition of this snapshot, or on receiving this
  // many migration orders (0: never).
  int kill_at_snapshot = 0;
  int kill_at_migration = 0;
};

// Returns the process exit code: 0 when the job ended well.
int run_worker(const Program& program, const WorkerOptions& options);

}  // namespace canary::rt
