// Time as the runtime's parts measure it: the steady clock for intervals,
// and CPU time of a thread or of the whole process for what work costs.
#pragma once

#include <time.h>

#include <chrono>

namespace canary::rt {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Whether `clock` could be read (another thread's clock fails once that
// thread has ended), and into `seconds` what it says.
inline bool read_cpu_seconds(clockid_t clock, double& seconds) {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return false;
  seconds = ts.tv_sec + ts.tv_nsec * 1e-9;
  return true;
}
inline double cpu_seconds(clockid_t clock) {
  double seconds = 0;
  read_cpu_seconds(clock, seconds);
  return seconds;
}
inline double thread_cpu_seconds() { return cpu_seconds(CLOCK_THREAD_CPUTIME_ID); }
inline double process_cpu_seconds() { return cpu_seconds(CLOCK_PROCESS_CPUTIME_ID); }

}  // namespace canary::rt
