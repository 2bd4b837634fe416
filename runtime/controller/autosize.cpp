#include "controller/autosize.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <queue>
#include <sstream>

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

double longest_first_makespan(std::vector<double> costs, int threads) {
  std::sort(costs.begin(), costs.end(), std::greater<>());
  std::priority_queue<double, std::vector<double>, std::greater<>> busy;  // the least busy on top
  for (int t = 0; t < std::max(threads, 1); ++t) busy.push(0);
  double longest = 0;
  for (double c : costs) {
    double least = busy.top() + c;
    busy.pop();
    busy.push(least);
    longest = std::max(longest, least);
  }
  return longest;
}

namespace {

// The measured times as they would fall into `count` partitions: each split
// evenly when finer, neighbours added up when coarser.
std::vector<double> repartitioned(const std::vector<double>& costs, int count) {
  int now = static_cast<int>(costs.size());
  std::vector<double> out(count, 0.0);
  if (count >= now) {
    int k = count / now;
    for (int i = 0; i < count; ++i) out[i] = costs[i / k] / k;
  } else {
    int k = now / count;
    for (int i = 0; i < now; ++i) out[i / k] += costs[i];
  }
  return out;
}

}  // namespace

std::optional<AutosizeChoice> rechoose_partitions(const AutosizeMeasure& m) {
  int now = static_cast<int>(m.partition_cpu_s.size());
  if (now == 0 || m.elapsed_s <= 0 || m.remaining_s <= 0) return std::nullopt;
  // What the runtime's cost of the tasks adds to each thread, for `count`.
  auto overhead = [&](int count) {
    return m.overhead_s_per_task * static_cast<double>(m.tasks) * count / now / std::max(m.threads, 1);
  };
  double current = longest_first_makespan(m.partition_cpu_s, m.threads) + overhead(now);
  if (current <= 0) return std::nullopt;
  int best = now;
  double best_time = current;
  for (int count : {now / 2, now * 2, now / 4, now * 4}) {  // on a tie, the nearer
    if (count < 1 || count > kMaxPartitions || (count > now && m.exchanges)) continue;
    if (count < now && now % count != 0) continue;
    double predicted =
        longest_first_makespan(repartitioned(m.partition_cpu_s, count), m.threads) + overhead(count);
    if (predicted < best_time) best = count, best_time = predicted;
  }
  double gain = (current - best_time) / std::max(m.window_s, current);
  if (best == now || gain < kRechooseGain || m.remaining_s * gain < kRechoosePayback * m.elapsed_s)
    return std::nullopt;
  std::ostringstream why;
  why.precision(2);
  why << "the first tasks' times predict " << gain * 100 << "% less time with " << best << " than with "
      << now << ", which saves more than going back to the start costs";
  return AutosizeChoice{best, why.str()};
}

bool has_automatic(const Program& program) {
  return std::any_of(program.datasets.begin(), program.datasets.end(),
                     [](const DatasetInfo& d) { return d.automatic; });
}

bool exchanges_automatic(const Program& program) {
  return std::any_of(program.stages.begin(), program.stages.end(), [&program](const StageInfo& s) {
    return s.kind == StageKind::Scatter && program.datasets[s.to].automatic;
  });
}

namespace {

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
  program.counts(params, partitions, loops);
  for (std::size_t d = 0; d < partitions.size(); ++d)
    if (program.datasets[d].automatic) return partitions[d];
  return 0;
}

}  // namespace

Settled settle_automatic(const Program& program, void* params, int threads,
                         std::vector<std::string>& param_flags) {
  if (!has_automatic(program)) return {};
  if (int pinned = pinned_count(program, params); pinned > 0)
    return {
        "canary::automatic partitions: " + std::to_string(pinned) + " (pinned by --" + kAutomaticParam + ")",
        false};
  AutosizeChoice choice =
      choose_partitions({threads, input_bytes(program, params), exchanges_automatic(program)});
  set_automatic(program, params, choice.partitions, param_flags);
  return {automatic_line(choice), true};
}

std::string automatic_line(const AutosizeChoice& choice) {
  std::string count = std::to_string(choice.partitions);
  return "canary::automatic partitions: " + count + " (" + choice.why + "; repeat with --" + kAutomaticParam +
         "=" + count + ")";
}

void set_automatic(const Program& program, void* params, int count, std::vector<std::string>& param_flags) {
  std::string value = std::to_string(count), error, flag = std::string(kAutomaticParam) + "=";
  program.set_param(params, kAutomaticParam, value, error);
  param_flags.erase(std::remove_if(param_flags.begin(), param_flags.end(),
                                   [&flag](const std::string& p) { return p.rfind(flag, 0) == 0; }),
                    param_flags.end());
  param_flags.push_back(flag + value);
}

}  // namespace canary::rt
