// The controller (DESIGN.md section 6, paper section 3.3): it waits for the
// workers to register, decides which worker holds which partition, starts
// them, and then only listens: heartbeats, failures, load reports, on which
// it moves partition groups off stragglers, snapshot reports, and at the end
// each worker's outputs and statistics. It does nothing per task. When a
// worker is lost it rolls every worker back to the last complete snapshot.
#pragma once

#include <canary/program.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wire/auth.h"

namespace canary::rt {

struct ControllerOptions {
  std::string listen;                      // the endpoint to bind, e.g. tcp://0.0.0.0:7100
  std::optional<Credentials> credentials;  // see auth.h; none: no authentication
  bool insecure = false;                   // without keys, may listen beyond loopback
  int expect = 1;                          // how many workers the job needs
  double timeout_s = 30;                   // for registrations
  double heartbeat_timeout_s = 10;         // a worker silent this long is lost
  std::vector<std::string> params;         // the job's parameters as "name=value", sent to the workers
  std::string results;                     // where to write the results JSON, if anywhere
  bool balance = true;                     // migrate partition groups off workers that hold the others up
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
  // Snapshots and recovery (paper section 3.3): with a directory, workers
  // write their partitions under it every `snapshot_every` iterations of an
  // outermost loop, and losing a worker rolls the job back to the last
  // complete snapshot instead of failing it. A worker that registers while
  // the job runs joins at the next snapshot.
  std::string snapshot_dir;
  int snapshot_every = 10;
  // A snapshot that cannot be written fails the job instead of being skipped.
  bool snapshot_required = false;
  // --resume: the directory of a run whose controller (or whole cluster)
  // died. Its RUN record gave the parameters and snapshot_every; the job
  // goes on from its newest complete snapshot that checks out, and writes
  // its snapshots there.
  std::string resume;
  // The baseline (--dispatch=central): this controller launches every task,
  // one message per ready task, and hears back after each, as Spark's
  // driver does. No balancing, migrations or snapshots then.
  bool central_dispatch = false;
  // People watching: the progress line on stderr (a line redrawn on a
  // terminal, else one every `progress_every_s`), and with `http`
  // ("PORT" or "HOST:PORT") the status server (status_server.h).
  bool quiet = false;
  double progress_every_s = 5;
  std::string http;
  // Called once the socket is bound, with its actual endpoint (a :* port
  // resolved): the embedded mode starts its workers there.
  std::function<void(const std::string&)> on_bound;
  // Called while waiting: the worker processes this controller started that
  // have exited since, as (pid, how), so that a killed one is lost at once.
  std::function<std::vector<std::pair<int, std::string>>()> exited;
};

// Runs the job on the registered workers. Returns the process exit code.
int run_controller(const Program& program, void* params, const ControllerOptions& options);

}  // namespace canary::rt
