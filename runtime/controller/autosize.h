// Automatic partition counts (canary::automatic; docs/runtime.md, "Automatic
// partition counts"): the one count every dataset declared so gets. Chosen
// first from what is known before the job starts, then, once, again from
// the task times measured in its first iterations, when a count predicted
// faster pays for going back to the start. Both decisions are plain
// functions, free of sockets and files like the balancer's, so they are
// tested directly; settle_automatic() gathers the first one's inputs and
// the controller the second's.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace canary::rt {

struct AutosizeInputs {
  int threads = 1;                // compute threads in the cluster
  std::uint64_t input_bytes = 0;  // what the job's read stages read (0: it has none)
  bool exchanges = false;         // a scatter sends to automatic datasets
};

struct AutosizeChoice {
  int partitions = 1;
  std::string why;  // how the count follows from the inputs, for the log
};

// Two partitions per compute thread (one when they exchange data all to
// all), fewer when the input is too small to give each at least
// kMinAutomaticPartitionBytes.
constexpr int kAutomaticPerThread = 2;
constexpr std::uint64_t kMinAutomaticPartitionBytes = std::uint64_t{1} << 20;
AutosizeChoice choose_partitions(const AutosizeInputs& in);

// What the controller has measured of a run a few load reports in.
struct AutosizeMeasure {
  int threads = 1;                      // compute threads in the cluster
  std::vector<double> partition_cpu_s;  // per automatic partition: its tasks' CPU time so far
  std::uint64_t tasks = 0;              // tasks run so far on these partitions
  double overhead_s_per_task = 0;       // the scheduler's CPU time per task, outside task bodies
  double elapsed_s = 0;                 // since the start: what going back to it throws away
  double remaining_s = 0;               // what the rest of the job takes at this count, estimated
  double window_s = 0;                  // the span partition_cpu_s was measured over
  bool exchanges = false;               // a scatter sends to automatic datasets
};

// The count among a quarter, half, twice and four times the current one
// (partition_cpu_s.size()) predicted fastest, when it is predicted at least
// kRechooseGain faster and what it saves over the remaining time is at least
// kRechoosePayback times what starting over throws away. The prediction
// splits each partition's measured time evenly into the finer ones (or
// adds up neighbours into coarser ones), deals them to the threads longest
// first, as the balancer can at best, and adds the measured runtime's cost
// of that many tasks. What it saves is taken against the span the times
// were measured over (window_s), not against the predicted time: when the
// loop waits for messages more than it computes, or the balancer already
// does better than the times dealt afresh, a count saves less. A scatter to
// automatic datasets costs chunks that grow as the square of the count, so
// it is never raised then.
constexpr double kRechooseGain = 0.1;
constexpr double kRechoosePayback = 1.5;
std::optional<AutosizeChoice> rechoose_partitions(const AutosizeMeasure& m);

// The busiest thread's time when `costs` are dealt to `threads`, longest
// first, each to the least busy thread (LPT).
double longest_first_makespan(std::vector<double> costs, int threads);

// Whether the job declares any dataset with canary::automatic, and whether
// a scatter sends to one.
bool has_automatic(const Program& program);
bool exchanges_automatic(const Program& program);

// What settle_automatic did: `line` says it ("" for a job without automatic
// datasets); `chosen` is whether the runtime chose the count, rather than
// the parameters pinning it.
struct Settled {
  std::string line;
  bool chosen = false;
};

// For a job with automatic datasets whose parameters do not pin the count
// (--partitions-for-automatic): chooses it for `threads` compute threads
// and sets it with set_automatic.
Settled settle_automatic(const Program& program, void* params, int threads,
                         std::vector<std::string>& param_flags);

// The line saying a choice: the count, why, and how to repeat it.
std::string automatic_line(const AutosizeChoice& choice);

// Sets the count in `params` and in `param_flags`, the parameters workers
// receive, replacing what these said of it before.
void set_automatic(const Program& program, void* params, int count, std::vector<std::string>& param_flags);

}  // namespace canary::rt
