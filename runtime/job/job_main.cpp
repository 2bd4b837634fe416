// The job binary's command line (DESIGN.md section 3): the embedded default
// (a controller and --workers worker processes on this machine), the
// controller and worker of a cluster, and --in-process.
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "canary/program.h"
#include "controller/controller.h"
#include "core/partition_map.h"
#include "core/results.h"
#include "io/files.h"
#include "job/command_line.h"
#include "job/whole_lines.h"
#include "placement/placement.h"
#include "wire/auth.h"
#include "worker/in_process.h"
#include "worker/worker.h"

extern char** environ;

namespace canary::rt {

namespace {

int cores() { return std::max(1u, std::thread::hardware_concurrency()); }

// A controller's or worker's keys, with --keys: those of the cluster.
// None without --keys.
Result<std::optional<Credentials>> cluster_credentials(const Flags& f, bool controller) {
  if (f.keys.empty()) return std::optional<Credentials>();
  Result<ClusterKeys> keys = read_cluster_keys(f.keys, controller);
  if (!keys.ok()) return keys.status();
  return std::optional<Credentials>(Credentials::of_cluster(std::move(keys).value()));
}

// " (its count is NAME)" when the graph gives a count as an expression of
// the parameters, not a number.
std::string count_source(const nlohmann::json& count) {
  return count.is_string() ? " (its count is " + count.get<std::string>() + ")" : "";
}

// The partition counts the parameters give, refused here, by the one
// process that has the parameters, before any worker starts.
Status check_counts(const Program& program, const void* params) {
  std::vector<long long> partitions, loops;
  program.evaluate_counts(params, partitions, loops);
  nlohmann::json graph = nlohmann::json::parse(program.graph_json);
  const char* uncountable = " with these parameters: it divides by zero or overflows 64 bits";
  for (std::size_t d = 0; d < partitions.size(); ++d) {
    if (partitions[d] >= 1 && partitions[d] <= kMaxPartitions) continue;
    if (program.datasets[d].automatic) continue;  // chosen once the workers are known
    if (partitions[d] == kUncountable)
      return Status::error("dataset '" + program.datasets[d].name + "' has no partition count" +
                           count_source(graph["datasets"][d]["partitions"]) + uncountable);
    return Status::error("dataset '" + program.datasets[d].name + "' would have " +
                         std::to_string(partitions[d]) + " partitions" +
                         count_source(graph["datasets"][d]["partitions"]) + "; it needs from 1 to " +
                         std::to_string(kMaxPartitions));
  }
  for (std::size_t b = 0; b < program.blocks.size() && b < loops.size(); ++b) {
    bool negative = loops[b] < 0;
    if (program.blocks[b].kind != BlockKind::Loop || (!negative && loops[b] <= kMaxLoopCount)) continue;
    const nlohmann::json& block = graph["blocks"][b];
    std::string at = std::filesystem::path(block["loc"]["file"].get<std::string>()).filename().string() +
                     ":" + std::to_string(block["loc"]["line"].get<int>());
    if (loops[b] == kUncountable)
      return Status::error("the loop at " + at + " has no count" + count_source(block["count"]) +
                           uncountable);
    return Status::error("the loop at " + at + " would run " + std::to_string(loops[b]) + " times" +
                         count_source(block["count"]) + "; it needs a count of " +
                         (negative ? "0 or more" : "at most " + std::to_string(kMaxLoopCount)));
  }
  return Status::fine();
}

ControllerOptions controller_options(const Flags& f, const std::string& listen, int expect) {
  ControllerOptions options;
  options.listen = listen;
  options.expect = expect;
  options.timeout_s = f.timeout_s;
  options.params = f.params;
  options.results = f.results;
  options.chaos_migrate_ms = f.chaos_migrate_ms;
  options.chaos_seed = f.chaos_seed;
  options.stale_map_worker = f.stale_map_worker;
  options.stale_map_ms = f.stale_map_ms;
  options.heartbeat_timeout_s = f.heartbeat_timeout_s;
  options.snapshot_dir = f.snapshot_dir;
  options.resume = f.resume;
  options.snapshot_required = f.snapshot_required;
  options.central_dispatch = f.central_dispatch;
  options.insecure = f.insecure;
  options.balance = !f.no_balance && !f.central_dispatch;
  if (f.snapshot_every) options.snapshot_every = f.snapshot_every;
  options.quiet = f.quiet;
  if (f.progress_every_s > 0) options.progress_every_s = f.progress_every_s;
  options.http = f.http;
  return options;
}

// The embedded default's workers: one per NUMA node with --workers=auto, and
// by default on a machine of several nodes; otherwise (none returned)
// --workers of them, unpinned.
std::vector<NumaNode> embedded_layout(const Flags& f) {
  if (f.workers_given && !f.workers_auto) return {};
  Result<std::vector<NumaNode>> nodes = numa_nodes();
  if (!nodes.ok()) {
    if (f.workers_auto) throw std::runtime_error("--workers=auto: " + nodes.why());
    return {};
  }
  if (!f.workers_auto && nodes.value().size() < 2) return {};
  for (const NumaNode& node : nodes.value()) {  // refused here once, not by every worker
    Status runnable = check_runnable(node.cpus, "--numa-node " + std::to_string(node.index));
    if (!runnable.ok()) throw std::runtime_error("one worker per NUMA node: " + runnable.why());
  }
  return std::move(nodes).value();
}

// The embedded default: this process is the controller, and it starts
// --workers copies of itself as workers, connected over loopback.
//
// Its connections are authenticated like a cluster's: with --keys DIR by
// those keys, else by keys made for this run alone (unless --insecure), so
// that no other local process can join the job or feed it data.
int run_embedded(const Program& program, void* params, const Flags& f) {
  std::vector<NumaNode> nodes = embedded_layout(f);
  int workers = nodes.empty() ? f.workers : static_cast<int>(nodes.size());
  struct Child {
    pid_t pid;  // -1 once it has exited
    int slot;   // the worker it runs, 0 to workers - 1
  };
  std::vector<Child> children;
  ControllerOptions options = controller_options(f, "tcp://127.0.0.1:*", workers);
  std::vector<std::string> environment(environ, environ + std::char_traits<char*>::length(environ));
  Result<std::optional<Credentials>> keys = cluster_credentials(f, true);
  if (!keys.ok()) throw std::runtime_error(keys.why());
  options.credentials = std::move(keys).value();
  if (!options.credentials && !f.insecure) {
    options.credentials = Credentials::for_run();
    environment.push_back(std::string(kRunSecretVariable) + "=" + options.credentials->run_secret());
  }
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string endpoint;
  auto spawn = [&](int w) {
    int threads = f.threads       ? f.threads
                  : nodes.empty() ? std::max(1, cores() / workers)
                                  : static_cast<int>(nodes[w].cpus.size());
    std::vector<std::string> args = {program.job,    "worker",
                                     "--controller", endpoint,
                                     "--threads",    std::to_string(threads),
                                     "--timeout",    std::to_string(f.timeout_s)};
    if (!nodes.empty()) args.insert(args.end(), {"--numa-node", std::to_string(nodes[w].index)});
    if (w == f.slow_worker) args.insert(args.end(), {"--slowdown", std::to_string(f.slowdown)});
    if (!f.keys.empty()) args.insert(args.end(), {"--keys", f.keys});
    if (f.keys.empty() && !f.insecure) args.emplace_back("--run-secret");
    args.insert(args.end(), {"--parent", std::to_string(getpid())});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()) != 0) return false;
    children.push_back({pid, w});
    return true;
  };
  options.on_bound = [&](const std::string& bound) {
    endpoint = bound;
    for (int w = 0; w < workers; ++w) spawn(w);
  };
  // A job that survives losses gets a new worker process for each one lost
  // (it joins at the next snapshot), up to as many as it started with: a
  // task that kills every process it runs in must not go on for ever.
  bool survives_losses = !f.snapshot_dir.empty() || !f.resume.empty();
  int replacements_left = survives_losses ? workers : 0;
  std::vector<int> to_replace;  // slots whose worker was lost, replaced at the next call
  options.exited = [&] {
    for (int w : to_replace)
      if (replacements_left > 0 && spawn(w)) {
        --replacements_left;
        std::cerr << "controller: started worker process " << children.back().pid
                  << " in place of the one lost; it joins at the next snapshot\n";
      }
    to_replace.clear();
    std::vector<std::pair<int, std::string>> exited;
    for (auto& [pid, slot] : children) {
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          exited.emplace_back(pid, WIFSIGNALED(status)
                                       ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                       : "exited with status " + std::to_string(WEXITSTATUS(status)));
          to_replace.push_back(slot);
        }
        pid = -1;
      }
    }
    return exited;
  };
  int code = run_controller(program, params, options);
  // The workers leave when told to; make sure none outlives the job.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const Child& child : children) {
    if (child.pid <= 0) continue;
    int status = 0;
    while (waitpid(child.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return code;
}

// A flag, or what it names, cannot be had.
int usage_error(const Program& program, const Status& why) {
  std::cerr << program.job << ": error: " << why.why() << "\n";
  return 2;
}

// Partitions and chunks of megabytes are allocated and freed every
// iteration. By default glibc gives each back to the kernel (munmap, or a
// trim of the heap) and the next one of its size page-faults in fresh zeroed
// pages: on the exchange benchmark that was half the time. Kept in the heap,
// they are reused; the cost is that a worker's footprint stays at its peak.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: bigger blocks are still mapped
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace

int job_main(const Program& program, int argc, char** argv) {
  keep_freed_memory();
  write_whole_lines_to_stderr();
  // A file grown past the size limit (ulimit -f) is an error to report,
  // like a full disk, not a reason to die.
  signal(SIGXFSZ, SIG_IGN);
  std::unique_ptr<void, void (*)(void*)> params(program.new_params(), program.delete_params);
  Flags flags;
  Status parsed = parse_command_line(program, argc, argv, flags, params.get());
  // The process with the parameters refuses bad counts and paths before any task runs.
  if (parsed.ok() && flags.mode != Mode::Worker && flags.mode != Mode::Keygen && !flags.help &&
      !flags.graph) {
    parsed = check_counts(program, params.get());
    if (parsed.ok())
      parsed =
          prepare_files(program, params.get(), flags.resume.empty() ? RunStart::Fresh : RunStart::Resumed);
  }
  if (!parsed.ok()) {
    std::cerr << program.job << ": error: " << parsed.why() << "\n";
    return 2;
  }
  if (flags.help) {
    std::cout << help_text(program);
    return 0;
  }
  if (flags.graph) {
    std::cout << program.graph_json;
    return 0;
  }
  try {
    switch (flags.mode) {
      case Mode::InProcess: {
        if (flags.workers_auto)
          return usage_error(
              program,
              Status::error("--workers=auto starts worker processes; with --in-process give a number"));
        InProcessOptions options;
        options.workers = flags.workers_given ? flags.workers : 1;
        options.threads = flags.threads ? flags.threads : std::max(1, cores() / options.workers);
        options.slowdown = flags.slowdown;
        options.results = flags.results;
        options.quiet = flags.quiet;
        if (flags.progress_every_s > 0) options.progress_every_s = flags.progress_every_s;
        return run_in_process(program, params.get(), options);
      }
      case Mode::Embedded:
        return run_embedded(program, params.get(), flags);
      case Mode::Controller: {
        ControllerOptions options = controller_options(flags, flags.listen, flags.expect);
        Result<std::optional<Credentials>> keys = cluster_credentials(flags, true);
        if (!keys.ok()) return usage_error(program, keys.status());
        options.credentials = std::move(keys).value();
        return run_controller(program, params.get(), options);
      }
      case Mode::Worker: {
        // A worker of the embedded default never outlives it, however it ends
        // (SIGKILL included): the kernel kills it when its parent goes.
        if (flags.parent > 0) {
          prctl(PR_SET_PDEATHSIG, SIGKILL);
          if (getppid() != flags.parent) return 1;  // it went before the line above
        }
        WorkerOptions options;
        options.controller = flags.controller;
        Result<std::vector<int>> cpus = worker_cpus(flags.numa_node, flags.cpus);
        if (!cpus.ok()) return usage_error(program, cpus.status());
        options.cpus = std::move(cpus).value();
        options.numa_node = flags.numa_node;
        // Before any thread starts, so that ZeroMQ's run on these CPUs too.
        if (!options.cpus.empty()) {
          Status placed = run_on(options.cpus);
          if (!placed.ok()) return usage_error(program, placed);
        }
        options.threads = flags.threads          ? flags.threads
                          : options.cpus.empty() ? cores()
                                                 : static_cast<int>(options.cpus.size());
        options.timeout_s = flags.timeout_s;
        options.controller_grace_s = flags.controller_grace_s;
        options.host = flags.host;
        options.listen = flags.listen;
        options.slowdown = flags.slowdown;
        options.kill_at_snapshot = flags.kill_at_snapshot;
        options.kill_at_migration = flags.kill_at_migration;
        options.insecure = flags.insecure;
        options.embedded = flags.parent > 0;
        Result<std::optional<Credentials>> keys = cluster_credentials(flags, false);
        if (!keys.ok()) return usage_error(program, keys.status());
        options.credentials = std::move(keys).value();
        if (flags.run_secret) {  // a worker of the embedded default
          const char* secret = std::getenv(kRunSecretVariable);
          if (!secret)
            return usage_error(
                program, Status::error(std::string("--run-secret: $") + kRunSecretVariable + " is not set"));
          options.credentials = Credentials::of_run(secret);
        }
        return run_worker(program, options);
      }
      case Mode::Keygen: {
        Status written = write_cluster_keys(flags.keys);
        if (!written.ok()) {
          std::cerr << program.job << ": error: " << written.why() << "\n";
          return 1;
        }
        std::cerr
            << program.job << ": wrote the cluster's keys to " << flags.keys
            << ": give the controller --keys with controller.key and worker.pub, and every worker --keys "
               "with worker.key and controller.pub\n";
        return 0;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << program.job << ": error: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace canary::rt
