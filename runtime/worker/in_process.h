// --in-process: the whole job in this process, each worker a
// LocalScheduler on threads of its own, messages and handovers going
// straight to the receiving worker's router as the network would carry them.
#pragma once

#include <canary/program.h>

#include <string>

namespace canary::rt {

// Runs the job with `workers` workers of `threads` compute threads; writes
// the results (to `results`, if given) and returns the exit code. Throws
// std::runtime_error when a task fails.
int run_in_process(const Program& program, void* params, int workers, int threads, double slowdown,
                   const std::string& results);

}  // namespace canary::rt
