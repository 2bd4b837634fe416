// The job binary's command line (DESIGN.md section 3): the embedded default
// (a controller and --workers worker processes on this machine), the
// controller and worker of a cluster, and --in-process.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "auth.h"
#include "canary/program.h"
#include "controller.h"
#include "results.h"
#include "scheduler.h"
#include "worker.h"

extern char** environ;

namespace canary::rt {

bool parse_value(const std::string& text, long& out, std::string& error) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    error = "'" + text + "' is not an integer";
    return false;
  }
  out = v;
  return true;
}

bool parse_value(const std::string& text, int& out, std::string& error) {
  long v = 0;
  if (!parse_value(text, v, error)) return false;
  if (v < INT32_MIN || v > INT32_MAX) {
    error = "'" + text + "' is out of range for an int";
    return false;
  }
  out = static_cast<int>(v);
  return true;
}

bool parse_value(const std::string& text, double& out, std::string& error) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
    error = "'" + text + "' is not a finite number";
    return false;
  }
  out = v;
  return true;
}

bool parse_value(const std::string& text, bool& out, std::string& error) {
  if (text == "true" || text == "1" || text == "yes") {
    out = true;
  } else if (text == "false" || text == "0" || text == "no") {
    out = false;
  } else {
    error = "'" + text + "' is not a boolean (true or false)";
    return false;
  }
  return true;
}

bool parse_value(const std::string& text, std::string& out, std::string&) {
  out = text;
  return true;
}

nlohmann::ordered_json stats_json(double elapsed_s, const std::vector<WorkerSummary>& workers,
                                  int migrations) {
  WorkerSummary total;
  nlohmann::ordered_json per_worker = nlohmann::ordered_json::array();
  for (const WorkerSummary& w : workers) {
    total.tasks += w.tasks;
    total.scheduler_cpu_s += w.scheduler_cpu_s;
    total.task_cpu_s += w.task_cpu_s;
    total.forwarded += w.forwarded;
    total.held += w.held;
    per_worker.push_back(w.tasks);
  }
  return {{"elapsed_s", elapsed_s},
          {"tasks", total.tasks},
          {"tasks_per_worker", per_worker},
          {"workers", workers.size()},
          {"scheduler_cpu_s", total.scheduler_cpu_s},
          {"task_cpu_s", total.task_cpu_s},
          {"scheduler_ns_per_task", total.tasks ? total.scheduler_cpu_s * 1e9 / total.tasks : 0.0},
          {"forwarded", total.forwarded},
          {"held", total.held},
          {"migrations", migrations}};
}

int report_results(const Program& program, const Outputs& outputs, const nlohmann::ordered_json& stats,
                   const std::string& results_path, double elapsed_s, std::uint64_t tasks,
                   const std::string& where) {
  nlohmann::ordered_json results = {
      {"job", program.job}, {"outputs", nlohmann::ordered_json::parse(outputs.to_json())}, {"stats", stats}};
  if (!results_path.empty()) {
    std::ofstream out(results_path);
    if (!(out << results.dump(2) << "\n")) {
      std::cerr << program.job << ": error: cannot write results to " << results_path << "\n";
      return 1;
    }
  }
  for (const auto& [key, value] : results["outputs"].items())
    std::cout << key << " = " << value.dump() << "\n";
  std::cerr << program.job << ": done in " << elapsed_s << " s, " << tasks << " tasks on " << where << "\n";
  return 0;
}

namespace {

enum class Mode { Embedded, InProcess, Controller, Worker, Keygen };

struct Flags {
  Mode mode = Mode::Embedded;
  int workers = 2;
  bool workers_given = false;  // --in-process runs one worker unless told more
  int threads = 0;             // 0: chosen per mode
  double timeout_s = 30;
  double heartbeat_timeout_s = 10;
  std::string results, listen, controller, host;
  std::string snapshot_dir;
  int snapshot_every = 0;                           // 0: not given
  int kill_at_snapshot = 0, kill_at_migration = 0;  // fault tests (--test-kill-at-...)
  bool central_dispatch = false;                    // --dispatch=central
  std::string keys;                                 // --keys DIR; keygen's DIR
  bool insecure = false;
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
};

int cores() { return std::max(1u, std::thread::hardware_concurrency()); }

void print_help(const Program& program) {
  const std::string& j = program.job;
  std::cout
      << "usage: " << j
      << " [--workers N] [--in-process] [--threads N] [--results FILE] [--PARAM=VALUE ...]\n"
      << "       " << j << " controller --listen ENDPOINT --expect N [--results FILE] [--PARAM=VALUE ...]\n"
      << "       " << j << " worker --controller ENDPOINT [--threads N] [--host NAME]\n"
      << "       " << j << " keygen DIR\n"
      << "       " << j << " --graph\n\n"
      << "Runs the Canary job '" << j << "'. Without a command: a controller and --workers worker\n"
      << "processes on this machine, over loopback sockets.\n\n"
      << "  --workers N        worker processes of the embedded default (default 2)\n"
      << "  --in-process       run the job in this process: with --workers N, N workers as threads\n"
      << "  --threads N        compute threads per worker (default: the cores, shared among local workers)\n"
      << "  --results FILE     write {\"job\", \"outputs\", \"stats\"} as JSON to FILE\n"
      << "  --timeout S        give up when a peer stays silent S seconds (default 30)\n"
      << "  --heartbeat-timeout S  controller: a worker silent S seconds is lost (default 10)\n"
      << "  --snapshot-dir DIR controller: write snapshots under DIR (on a cluster, storage every worker\n"
      << "                     reaches) and survive losing a worker by rolling back to the last one\n"
      << "  --snapshot-every N controller: a snapshot every N iterations of an outermost loop (default 10)\n"
      << "  --keys DIR         controller and workers: authenticate every connection with the cluster's\n"
      << "                     CURVE keys (`" << j << " keygen DIR` makes them)\n"
      << "  --insecure         controller and workers: listen beyond loopback without --keys\n"
      << "  --dispatch MODE    controller: local (default: every worker schedules its own tasks) or\n"
      << "                     central (the baseline: the controller launches every task, as Spark does)\n"
      << "  --listen ENDPOINT  controller: where workers reach it, e.g. tcp://0.0.0.0:7100\n"
      << "  --expect N         controller: how many workers to wait for\n"
      << "  --controller EP    worker: the controller's endpoint, e.g. tcp://head:7100\n"
      << "  --host NAME        worker: the name or address other workers reach it by\n"
      << "  --listen ENDPOINT  worker: where to take data from other workers (default: any free port)\n"
      << "  --slowdown F       worker or --in-process: make every task F times slower (to test stragglers)\n"
      << "  --slow-worker W:F  the embedded default: worker W runs with --slowdown F\n"
      << "  --no-balance       controller: never move partitions off a straggler\n"
      << "  --chaos-migrate-ms N  controller, tests: move a random partition group every N ms\n"
      << "  --chaos-seed S     the seed of those random moves (default 1)\n"
      << "  --http [HOST:]PORT controller: serve a live page, /status.json and /metrics at PORT (on\n"
      << "                     127.0.0.1 unless HOST says otherwise, e.g. 0.0.0.0:8080; 0: a free port)\n"
      << "  --quiet            controller: no progress line on stderr\n"
      << "  --progress-every S controller: when stderr is no terminal, a progress line every S seconds\n"
      << "                     (default 5; on a terminal one line is redrawn in place)\n"
      << "  --graph            print the job's stage graph (canary-graph/1 JSON) and exit\n\n"
      << "Job parameters (given to the controller, which passes them on):\n";
  nlohmann::json graph = nlohmann::json::parse(program.graph_json);
  for (const auto& p : graph["params"])
    std::cout << "  --" << p["name"].get<std::string>() << "=" << p["type"].get<std::string>()
              << "   (default " << p["default"].dump() << ")\n";
}

// Parses the command line; returns an error message, empty when all is well.
std::string parse_command_line(const Program& program, int argc, char** argv, Flags& f, void* params) {
  int first = 1;
  if (argc > 1 && argv[1][0] != '-') {
    std::string mode = argv[1];
    if (mode == "controller") {
      f.mode = Mode::Controller;
    } else if (mode == "worker") {
      f.mode = Mode::Worker;
    } else if (mode == "keygen") {
      if (argc != 3 || argv[2][0] == '-')
        return "keygen takes one argument, the directory to write the keys to";
      f.mode = Mode::Keygen;
      f.keys = argv[2];
      return "";
    } else {
      return "unknown command '" + mode + "' (expected controller, worker or keygen); see --help";
    }
    first = 2;
  }
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) return "unexpected argument '" + arg + "'; see --help";
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "help" || name == "graph" || name == "no-balance" || name == "insecure" || name == "quiet") {
      (name == "help"       ? f.help
       : name == "graph"    ? f.graph
       : name == "insecure" ? f.insecure
       : name == "quiet"    ? f.quiet
                            : f.no_balance) = true;
      continue;
    }
    if (name == "in-process") {
      if (f.mode != Mode::Embedded && f.mode != Mode::InProcess) return "--in-process takes no command";
      f.mode = Mode::InProcess;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return "--" + name + " needs a value";
      value = argv[++i];
    }
    std::string error;
    auto positive = [&](int& out, int max) -> std::string {
      if (!parse_value(value, out, error)) return "--" + name + ": " + error;
      if (out < 1 || out > max) return "--" + name + " must be between 1 and " + std::to_string(max);
      return "";
    };
    std::string problem;
    if (name == "threads") {
      problem = positive(f.threads, 1024);
    } else if (name == "workers") {
      problem = positive(f.workers, 256);
      f.workers_given = true;
    } else if (name == "expect") {
      problem = positive(f.expect, 4096);
    } else if (name == "timeout") {
      if (!parse_value(value, f.timeout_s, error) || f.timeout_s <= 0)
        problem = "--timeout must be a positive number";
    } else if (name == "heartbeat-timeout") {
      if (!parse_value(value, f.heartbeat_timeout_s, error) || f.heartbeat_timeout_s <= 0)
        problem = "--heartbeat-timeout must be a positive number of seconds";
    } else if (name == "keys") {
      f.keys = value;
      if (value.empty()) problem = "--keys needs the directory `JOB keygen DIR` wrote";
    } else if (name == "dispatch") {
      if (value != "local" && value != "central") problem = "--dispatch takes local or central";
      f.central_dispatch = value == "central";
    } else if (name == "snapshot-dir") {
      f.snapshot_dir = value;
      if (value.empty()) problem = "--snapshot-dir needs a directory";
    } else if (name == "snapshot-every") {
      problem = positive(f.snapshot_every, 1 << 30);
    } else if (name == "test-kill-at-snapshot") {
      problem = positive(f.kill_at_snapshot, 1 << 30);
    } else if (name == "test-kill-at-migration") {
      problem = positive(f.kill_at_migration, 1 << 30);
    } else if (name == "http") {
      f.http = value;
      if (value.empty()) problem = "--http needs a port, or HOST:PORT";
    } else if (name == "progress-every") {
      if (!parse_value(value, f.progress_every_s, error) || f.progress_every_s <= 0)
        problem = "--progress-every must be a positive number of seconds";
    } else if (name == "results") {
      f.results = value;
    } else if (name == "listen") {
      f.listen = value;
    } else if (name == "controller") {
      f.controller = value;
    } else if (name == "host") {
      f.host = value;
    } else if (name == "slowdown") {
      if (!parse_value(value, f.slowdown, error) || f.slowdown < 1 || f.slowdown > 1000)
        problem = "--slowdown takes a factor from 1 to 1000";
    } else if (name == "slow-worker") {
      if (std::sscanf(value.c_str(), "%d:%lf", &f.slow_worker, &f.slowdown) != 2 || f.slow_worker < 0 ||
          f.slowdown < 1 || f.slowdown > 1000)
        problem = "--slow-worker takes WORKER:FACTOR, the factor from 1 to 1000";
    } else if (name == "chaos-migrate-ms") {
      problem = positive(f.chaos_migrate_ms, 3600 * 1000);
    } else if (name == "chaos-seed") {
      int seed = 0;
      problem = positive(seed, INT32_MAX);
      f.chaos_seed = static_cast<unsigned>(seed);
    } else if (name == "test-stale-map") {
      if (std::sscanf(value.c_str(), "%d:%d", &f.stale_map_worker, &f.stale_map_ms) != 2 ||
          f.stale_map_worker < 0)
        problem = "--test-stale-map takes WORKER:MILLISECONDS";
    } else if (!program.set_param(params, name, value, error)) {
      problem = error.empty() ? "unknown flag '--" + name + "'; see --help" : "--" + name + ": " + error;
    } else {
      f.params.push_back(name + "=" + value);
    }
    if (!problem.empty()) return problem;
  }
  if (f.help || f.graph) return "";
  switch (f.mode) {
    case Mode::Controller:
      if (f.listen.empty() || f.expect == 0) return "controller needs --listen ENDPOINT and --expect N";
      if (f.slowdown != 1 || f.slow_worker >= 0) return "--slowdown belongs to a worker";
      if (f.kill_at_snapshot || f.kill_at_migration) return "--test-kill-at-... belongs to a worker";
      break;
    case Mode::Worker:
      if (f.controller.empty()) return "worker needs --controller ENDPOINT";
      if (f.expect) return "--expect belongs to the controller";
      if (!f.snapshot_dir.empty() || f.snapshot_every)
        return "--snapshot-dir and --snapshot-every belong to the controller; workers receive them from it";
      if (!f.params.empty() || !f.results.empty())
        return "job parameters and --results go to the controller; workers receive them from it";
      if (f.no_balance || f.chaos_migrate_ms)
        return "--no-balance and --chaos-migrate-ms belong to the controller";
      if (f.slow_worker >= 0) return "--slow-worker is for the embedded default; a worker takes --slowdown F";
      break;
    default:
      if (!f.listen.empty() || !f.controller.empty() || f.expect)
        return "--listen, --expect and --controller belong to the controller and worker commands";
      if (f.mode == Mode::InProcess && (f.no_balance || f.chaos_migrate_ms || f.slow_worker >= 0))
        return "--in-process does not migrate: --no-balance, --chaos-migrate-ms and --slow-worker need "
               "workers";
      if (f.slowdown != 1 && f.mode != Mode::InProcess && f.slow_worker < 0)
        return "--slowdown is for one worker (worker --slowdown F, or --slow-worker W:F) or --in-process";
      if (f.slow_worker >= f.workers) return "--slow-worker names a worker beyond --workers";
      if (f.mode == Mode::InProcess && !f.snapshot_dir.empty())
        return "--in-process cannot lose a worker: --snapshot-dir needs worker processes";
      if (f.mode == Mode::InProcess && (!f.keys.empty() || f.insecure))
        return "--in-process opens no socket: --keys and --insecure are for workers and controllers";
      if (f.kill_at_snapshot || f.kill_at_migration) return "--test-kill-at-... belongs to a worker";
  }
  if ((f.mode == Mode::Worker || f.mode == Mode::InProcess) &&
      (!f.http.empty() || f.quiet || f.progress_every_s > 0))
    return "--http, --quiet and --progress-every belong to the controller (or the embedded default)";
  if (f.snapshot_every && f.snapshot_dir.empty()) return "--snapshot-every needs --snapshot-dir";
  if (f.central_dispatch && (f.mode == Mode::Worker || f.mode == Mode::InProcess))
    return "--dispatch belongs to the controller (or the embedded default)";
  if (f.central_dispatch && (!f.snapshot_dir.empty() || f.chaos_migrate_ms))
    return "--dispatch=central does not migrate or snapshot: drop --snapshot-dir and --chaos-migrate-ms";
  return "";
}

// The other workers of an in-process run: a message goes straight to the
// receiving worker's scheduler, which routes it as the network would.
class InProcessPeers : public Peers {
 public:
  void send(int worker, const Message& m) override {
    std::string refused = workers[worker]->deliver(m);
    if (!refused.empty())
      workers[worker]->stop("internal error: a message between workers was refused: " + refused);
  }
  void hand_over(int worker, const Handover& h) override {
    std::string refused = workers[worker]->adopt(h);
    if (!refused.empty()) workers[worker]->stop("internal error: a handover was refused: " + refused);
  }
  std::vector<LocalScheduler*> workers;
};

int run_in_process(const Program& program, void* params, const Flags& f) {
  int workers = f.workers_given ? f.workers : 1;
  int threads = f.threads ? f.threads : std::max(1, cores() / workers);
  program.bind(params);
  Outputs outputs(program);

  PartitionMap map =
      initial_map(program, params, std::vector<int>(workers, threads));  // as a controller would

  InProcessPeers peers;
  std::vector<std::unique_ptr<LocalScheduler>> schedulers;
  for (int w = 0; w < workers; ++w) {
    RunConfig config;
    config.threads = threads;
    config.worker = w;
    config.workers = workers;
    config.map = &map;
    config.peers = &peers;
    config.slowdown = f.slowdown;
    schedulers.push_back(std::make_unique<LocalScheduler>(program, params, config, outputs));
    peers.workers.push_back(schedulers.back().get());
  }
  std::vector<RunStats> stats(workers);
  std::string failure;
  std::mutex failure_mutex;
  std::vector<std::thread> running;
  for (int w = 0; w < workers; ++w)
    running.emplace_back([&, w] {
      try {
        stats[w] = schedulers[w]->run();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (failure.empty()) failure = e.what();
        for (auto& s : schedulers) s->stop(e.what());  // the others would wait for it forever
      }
    });
  for (std::thread& t : running) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);

  double elapsed = 0;
  std::vector<WorkerSummary> summaries;
  nlohmann::ordered_json per_thread = nlohmann::ordered_json::array();
  for (int w = 0; w < workers; ++w) {
    const RunStats& s = stats[w];
    elapsed = std::max(elapsed, s.elapsed_s);
    summaries.push_back(
        {s.tasks, s.scheduler_cpu_s, s.task_cpu_s, schedulers[w]->forwarded(), schedulers[w]->held()});
    for (std::uint64_t t : s.tasks_per_thread) per_thread.push_back(t);
  }
  nlohmann::ordered_json json = stats_json(elapsed, summaries, 0);
  json["tasks_per_thread"] = per_thread;
  json["threads_per_worker"] = threads;
  json["stage_instances"] = stats.front().stage_instances;
  std::uint64_t tasks = json["tasks"];
  return report_results(
      program, outputs, json, f.results, elapsed, tasks,
      std::to_string(workers) + " worker(s) x " + std::to_string(threads) + " thread(s) in one process");
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
  options.central_dispatch = f.central_dispatch;
  options.keys = f.keys;
  options.insecure = f.insecure;
  options.balance = !f.no_balance && !f.central_dispatch;
  if (f.snapshot_every) options.snapshot_every = f.snapshot_every;
  options.quiet = f.quiet;
  if (f.progress_every_s > 0) options.progress_every_s = f.progress_every_s;
  options.http = f.http;
  return options;
}

// The embedded default: this process is the controller, and it starts
// --workers copies of itself as workers, connected over loopback.
int run_embedded(const Program& program, void* params, const Flags& f) {
  std::vector<pid_t> children;
  ControllerOptions options = controller_options(f, "tcp://127.0.0.1:*", f.workers);
  int threads = f.threads ? f.threads : std::max(1, cores() / f.workers);
  options.on_bound = [&](const std::string& endpoint) {
    std::string exe = "/proc/self/exe", threads_arg = std::to_string(threads),
                timeout = std::to_string(f.timeout_s);
    for (int w = 0; w < f.workers; ++w) {
      std::vector<std::string> args = {program.job, "worker",    "--controller", endpoint,
                                       "--threads", threads_arg, "--timeout",    timeout};
      if (w == f.slow_worker) args.insert(args.end(), {"--slowdown", std::to_string(f.slowdown)});
      if (!f.keys.empty()) args.insert(args.end(), {"--keys", f.keys});
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      pid_t pid = 0;
      if (posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ) == 0)
        children.push_back(pid);
    }
  };
  options.exited = [&] {
    std::vector<std::pair<int, std::string>> exited;
    for (pid_t& pid : children) {
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
          exited.emplace_back(pid, WIFSIGNALED(status)
                                       ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                       : "exited with status " + std::to_string(WEXITSTATUS(status)));
        pid = -1;
      }
    }
    return exited;
  };
  int code = run_controller(program, params, options);
  // The workers leave when told to; make sure none outlives the job.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (pid_t pid : children) {
    if (pid <= 0) continue;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return code;
}

}  // namespace

int job_main(const Program& program, int argc, char** argv) {
  std::unique_ptr<void, void (*)(void*)> params(program.new_params(), program.delete_params);
  Flags flags;
  std::string error = parse_command_line(program, argc, argv, flags, params.get());
  if (!error.empty()) {
    std::cerr << program.job << ": error: " << error << "\n";
    return 2;
  }
  if (flags.help) {
    print_help(program);
    return 0;
  }
  if (flags.graph) {
    std::cout << program.graph_json;
    return 0;
  }
  try {
    switch (flags.mode) {
      case Mode::InProcess:
        return run_in_process(program, params.get(), flags);
      case Mode::Embedded:
        return run_embedded(program, params.get(), flags);
      case Mode::Controller:
        return run_controller(program, params.get(), controller_options(flags, flags.listen, flags.expect));
      case Mode::Worker: {
        WorkerOptions options;
        options.controller = flags.controller;
        options.threads = flags.threads ? flags.threads : cores();
        options.timeout_s = flags.timeout_s;
        options.host = flags.host;
        options.listen = flags.listen;
        options.slowdown = flags.slowdown;
        options.kill_at_snapshot = flags.kill_at_snapshot;
        options.kill_at_migration = flags.kill_at_migration;
        options.keys = flags.keys;
        options.insecure = flags.insecure;
        return run_worker(program, options);
      }
      case Mode::Keygen: {
        std::string error = write_cluster_keys(flags.keys);
        if (!error.empty()) {
          std::cerr << program.job << ": error: " << error << "\n";
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
