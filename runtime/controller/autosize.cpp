#include "controller/autosize.h"

#include <algorithm>

#include "io/files.h"

namespace canary::rt {

// Libra's trade-off, with what is known before the first task runs. One
// partition per thread leaves a straggler (a slow partition, a slow core)
// setting every iteration's pace and the balancer nothing to move; each
// partition more per thread adds per-task overhead and, for an all-to-all
// scatter, a chunk per pair of partitions. `bench/run autosize` on this
// design: without a scatter, two per thread is within about 10% of the best
// count on uniform tasks and the best when every fourth partition is twice
// as slow; PageRank's scatter takes 1.3x as long with two per thread as with
// one, and 2x with four.
AutosizeChoice choose_partitions(const AutosizeInputs& in) {
  int threads = std::max(in.threads, 1), per_thread = in.exchanges ? 1 : kAutomaticPerThread;
  std::uint64_t wanted = static_cast<std::uint64_t>(threads) * per_thread;
  std::string why = std::to_string(per_thread) + " per compute thread" +
                    (in.exchanges ? " (a scatter sends chunks from every partition to every other)" : "") +
                    ", " + std::to_string(threads) + " thread(s)";
  if (in.input_bytes > 0) {
    std::uint64_t by_size = std::max<std::uint64_t>(1, in.input_bytes / kMinAutomaticPartitionBytes);
    if (by_size < wanted) {
      wanted = by_size;
      why = "the input (" + std::to_string(in.input_bytes) + " bytes) gives each of them at least " +
            std::to_string(kMinAutomaticPartitionBytes >> 20) + " MiB";
    }
  }
  wanted = std::min<std::uint64_t>(wanted, kMaxPartitions);
  return {static_cast<int>(wanted), why};
}

bool has_automatic(const Program& program) {
  return std::any_of(program.datasets.begin(), program.datasets.end(),
                     [](const DatasetInfo& d) { return d.automatic; });
}

namespace {

bool exchanges_automatic(const Program& program) {
  return std::any_of(program.stages.begin(), program.stages.end(), [&program](const StageInfo& s) {
    return s.kind == StageKind::Scatter && program.datasets[s.to].automatic;
  });
}

std::uint64_t input_bytes(const Program& program, const void* params) {
  std::vector<StageFiles> files;
  if (program.evaluate_files) program.evaluate_files(params, files);
  std::uint64_t total = 0;
  for (const StageFiles& f : files) {
    if (program.stages[f.stage].kind != StageKind::Read) continue;
    Result<std::vector<InputFile>> found = resolve_input(f.path);
    if (!found.ok()) continue;  // prepare_files has refused it already
    for (const InputFile& file : found.value()) total += file.bytes;
  }
  return total;
}

// The count the parameters hold: 0 when nothing has set it.
int pinned_count(const Program& program, const void* params) {
  std::vector<int> partitions, loops;
  program.evaluate_counts(params, partitions, loops);
  for (std::size_t d = 0; d < partitions.size(); ++d)
    if (program.datasets[d].automatic) return partitions[d];
  return 0;
}

}  // namespace

std::string settle_automatic(const Program& program, void* params, int threads,
                             std::vector<std::string>& param_flags) {
  if (!has_automatic(program)) return "";
  if (int pinned = pinned_count(program, params); pinned > 0)
    return "canary::automatic partitions: " + std::to_string(pinned) + " (pinned by --" + kAutomaticParam +
           ")";
  AutosizeChoice choice =
      choose_partitions({threads, input_bytes(program, params), exchanges_automatic(program)});
  std::string count = std::to_string(choice.partitions), error;
  program.set_param(params, kAutomaticParam, count, error);
  param_flags.push_back(std::string(kAutomaticParam) + "=" + count);
  return "canary::automatic partitions: " + count + " (" + choice.why + "; repeat with --" + kAutomaticParam +
         "=" + count + ")";
}

}  // namespace canary::rt
