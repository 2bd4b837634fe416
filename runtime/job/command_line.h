// The job binary's command line (DESIGN.md section 3): which role this
// process plays (the embedded default, --in-process, controller, worker,
// keygen), the flags each role takes, and the job's parameters as
// --field=value. One table defines every flag; CLI11 parses it and makes the
// help from it. Anything wrong is refused before the job starts, with one
// line that names the flag.
#pragma once

#include <canary/program.h>

#include <string>
#include <vector>

#include "core/result.h"

namespace canary::rt {

enum class Mode { Embedded, InProcess, Controller, Worker, Keygen };

struct Flags {
  Mode mode = Mode::Embedded;
  int workers = 2;
  bool workers_given = false;  // --in-process runs one worker unless told more
  bool workers_auto = false;   // --workers=auto: one per NUMA node
  int threads = 0;             // 0: chosen per mode
  std::string cpus;            // worker --cpus LIST
  int numa_node = -1;          // worker --numa-node N
  double timeout_s = 30;
  double heartbeat_timeout_s = 10;
  double controller_grace_s = -1;  // worker --controller-grace; < 0: not given
  std::string results, listen, controller, host;
  std::string snapshot_dir;
  std::string resume;  // --resume RUN_DIR
  bool snapshot_required = false;
  int snapshot_every = 0;                           // 0: not given
  int kill_at_snapshot = 0, kill_at_migration = 0;  // fault tests (--test-kill-at-...)
  bool central_dispatch = false;                    // --dispatch=central
  std::string keys;                                 // --keys DIR; keygen's DIR
  bool insecure = false;
  bool run_secret = false;  // a worker of the embedded default: the run's secret is in the environment
  int parent = 0;           // a worker of the embedded default: it dies with this process
  int stale_map_worker = -1, stale_map_ms = 0;  // --test-stale-map=W:MS
  double slowdown = 1;
  int slow_worker = -1;  // --slow-worker=W:F, the embedded default's worker W gets --slowdown F
  bool no_balance = false;
  int chaos_migrate_ms = 0;
  unsigned chaos_seed = 1;
  int expect = 0;
  bool graph = false, help = false;
  bool quiet = false;               // no progress line
  double progress_every_s = 0;      // 0: not given
  std::string http;                 // --http PORT or HOST:PORT
  std::vector<std::string> params;  // "name=value", as given
  int automatic_partitions = 0;     // --partitions-for-automatic; 0: chosen at run time
};

// Parses the command line into `flags`, and the job's parameters into
// `params` (the Program's parameter struct). Returns why it cannot be
// taken, in one line without the job's name, or "".
Status parse_command_line(const Program& program, int argc, char** argv, Flags& flags, void* params);

// What --help prints.
std::string help_text(const Program& program);

// Whether `endpoint` is a tcp://HOST:PORT a socket can bind (`bind`: PORT may
// also be * or 0, any free port) or connect to; the error names `flag`.
std::string check_endpoint(const std::string& flag, const std::string& endpoint, bool bind);

}  // namespace canary::rt
