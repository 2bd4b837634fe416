#include "core/results.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace canary::rt {

namespace fs = std::filesystem;

nlohmann::ordered_json stats_json(const Program& program, const void* params, double elapsed_s,
                                  const std::vector<WorkerSummary>& workers, int migrations) {
  std::vector<int> partitions, loops;
  program.counts(params, partitions, loops);
  nlohmann::ordered_json automatic = nullptr, by_dataset = nlohmann::ordered_json::object();
  for (std::size_t d = 0; d < partitions.size(); ++d) {
    by_dataset[program.datasets[d].name] = partitions[d];
    if (program.datasets[d].automatic) automatic = partitions[d];
  }
  WorkerSummary total;
  nlohmann::ordered_json per_worker = nlohmann::ordered_json::array(), placement = per_worker;
  for (const WorkerSummary& w : workers) {
    total.tasks += w.tasks;
    total.scheduler_cpu_s += w.scheduler_cpu_s;
    total.task_cpu_s += w.task_cpu_s;
    total.forwarded += w.forwarded;
    total.held += w.held;
    total.unused += w.unused;
    per_worker.push_back(w.tasks);
    placement.push_back({{"id", placement.size()},
                         {"tasks", w.tasks},
                         {"cpus", w.cpus},
                         {"numa_node", w.numa_node >= 0 ? nlohmann::ordered_json(w.numa_node) : nullptr}});
  }
  return {{"elapsed_s", elapsed_s},
          {"tasks", total.tasks},
          {"tasks_per_worker", per_worker},
          {"workers", placement},
          {"scheduler_cpu_s", total.scheduler_cpu_s},
          {"task_cpu_s", total.task_cpu_s},
          {"scheduler_ns_per_task", total.tasks ? total.scheduler_cpu_s * 1e9 / total.tasks : 0.0},
          {"forwarded", total.forwarded},
          {"held", total.held},
          {"unused_messages", total.unused},
          {"migrations", migrations},
          {"partitions", automatic},
          {"dataset_partitions", by_dataset}};
}

std::string results_target(const std::string& path) {
  constexpr int kMaxLinks = 40;  // as the kernel's ELOOP: a loop of links is left to fail when opened
  fs::path target = path;
  std::error_code error;
  for (int links = 0; links < kMaxLinks && fs::is_symlink(target, error); ++links) {
    if (fs::exists(target, error)) {
      fs::path real = fs::canonical(target, error);
      return error ? path : real.string();  // /dev/stdout on a pipe has no path: written through
    }
    fs::path next = fs::read_symlink(target, error);  // dangling: the file it would create
    if (error) break;
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  return target.string();
}

namespace {

// The job's standard output or error when it goes to the file `target`
// (--results /dev/stdout > FILE), or null.
std::ostream* standard_stream_to(const fs::path& target) {
  struct stat named {};
  if (::stat(target.c_str(), &named) != 0) return nullptr;
  for (auto [fd, stream] : {std::pair<int, std::ostream*>{1, &std::cout}, {2, &std::cerr}}) {
    struct stat standard {};
    if (::fstat(fd, &standard) == 0 && named.st_dev == standard.st_dev && named.st_ino == standard.st_ino)
      return stream;
  }
  return nullptr;
}

// A file is written whole or not at all: a temporary name beside it, then a
// rename, beside the file a symbolic link names. Anything else (/dev/null,
// /dev/stdout, a pipe) is written straight to, and the file the job's
// standard output or error goes to through that stream: a rename would put
// a file in its place.
bool write_results(const std::string& path, const nlohmann::ordered_json& results) {
  std::string text = results.dump(2) + "\n";
  std::error_code error;
  fs::path target = results_target(path);
  if (std::ostream* stream = standard_stream_to(target))
    return static_cast<bool>(*stream << text) && static_cast<bool>(stream->flush());
  if (fs::exists(target, error) && !fs::is_regular_file(target, error)) {
    std::ofstream out(target);
    return static_cast<bool>(out << text) && static_cast<bool>(out.flush());
  }
  std::string tmp = target.string() + ".tmp." + std::to_string(getpid());
  std::ofstream out(tmp);
  bool written = static_cast<bool>(out << text);
  out.close();
  if (written && std::rename(tmp.c_str(), target.c_str()) == 0) return true;
  std::remove(tmp.c_str());
  return false;
}

}  // namespace

int report_results(const Program& program, const Outputs& outputs, const nlohmann::ordered_json& stats,
                   const std::string& results_path, double elapsed_s, std::uint64_t tasks,
                   const std::string& where) {
  nlohmann::ordered_json results = {
      {"job", program.job}, {"outputs", nlohmann::ordered_json::parse(outputs.to_json())}, {"stats", stats}};
  if (!results_path.empty() && !write_results(results_path, results)) {
    std::cerr << program.job << ": error: cannot write results to " << results_path << "\n";
    return 1;
  }
  for (const auto& [key, value] : results["outputs"].items())
    std::cout << key << " = " << value.dump() << "\n";
  std::cerr << program.job << ": done in " << elapsed_s << " s, " << tasks << " tasks on " << where << "\n";
  return 0;
}

}  // namespace canary::rt
