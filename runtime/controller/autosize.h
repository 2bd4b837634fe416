// Automatic partition counts (canary::automatic; docs/runtime.md, "Automatic
// partition counts"): the one count every dataset declared so gets. The
// decision is a plain function of what is known before the job starts, kept
// free of sockets and files like the balancer's, so it is tested directly;
// settle_automatic() gathers its inputs and hands the count to the job.
#pragma once

#include <canary/program.h>

#include <cstdint>
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

// Whether the job declares any dataset with canary::automatic.
bool has_automatic(const Program& program);

// For a job with automatic datasets whose parameters do not pin the count
// (--partitions-for-automatic): chooses it for `threads` compute threads,
// sets it in `params` and adds it to `param_flags`, the parameters workers
// receive. Returns the line saying what was chosen and why, or "" when
// there was nothing to choose.
std::string settle_automatic(const Program& program, void* params, int threads,
                             std::vector<std::string>& param_flags);

}  // namespace canary::rt
