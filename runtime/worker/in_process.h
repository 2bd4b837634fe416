// --in-process: the whole job in this process, each worker a
// LocalScheduler on threads of its own, messages and handovers going
// straight to the receiving worker's router as the network would carry them.
#pragma once

#include <canary/program.h>

#include <string>

namespace canary::rt {

struct InProcessOptions {
  int workers = 1;
  int threads = 1;  // compute threads per worker
  double slowdown = 1;
  std::string results;  // where the results go, if anywhere
  // The controller's progress line on stderr, unless `quiet` (redrawn on a
  // terminal, else one every `progress_every_s`).
  bool quiet = false;
  double progress_every_s = 5;
};

// Runs the job; writes the results and returns the exit code. Throws
// std::runtime_error when a task fails.
int run_in_process(const Program& program, void* params, const InProcessOptions& options);

}  // namespace canary::rt
