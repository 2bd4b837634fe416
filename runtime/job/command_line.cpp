#include "job/command_line.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "controller/autosize.h"
#include "core/results.h"
#include "store/snapshot.h"

namespace canary::rt {
namespace {

// Who takes a flag, as a bit set.
enum Role : unsigned {
  kEmbedded = 1,  // no command: a controller and worker processes here
  kInProcess = 2,
  kController = 4,
  kWorker = 8,
};
constexpr unsigned kRunsJob = kEmbedded | kInProcess | kController;  // they hold the job's parameters
constexpr unsigned kControls = kEmbedded | kController;              // they run a controller
constexpr unsigned kAny = kEmbedded | kInProcess | kController | kWorker;

unsigned role_of(Mode mode) {
  switch (mode) {
    case Mode::Embedded:
      return kEmbedded;
    case Mode::InProcess:
      return kInProcess;
    case Mode::Controller:
      return kController;
    case Mode::Worker:
      return kWorker;
    case Mode::Keygen:
      return 0;
  }
  return 0;
}

// Sets a field of Flags from a flag's value; returns why the value is wrong, or "".
using Setter = std::function<std::string(const std::string& value, Flags& f)>;

// One flag: its name, its value's name in the help (none for a switch), what
// it does (null: hidden), who takes it, how it is set, its group in the
// help, and why the roles in `refused_by` refuse it (else it is said from
// `roles`).
struct Flag {
  const char* name;
  const char* value;
  const char* help;
  unsigned roles;
  Setter set;
  const char* group;
  const char* refusal = "";
  unsigned refused_by = 0;
};

// A switch's setter: it turns `field` on.
Setter switch_on(bool Flags::*field) {
  return [field](const std::string&, Flags& f) {
    f.*field = true;
    return std::string();
  };
}

std::string integer(const char* flag, const std::string& text, int min, int max, int& out) {
  std::string error;
  if (!parse_value(text, out, error)) return std::string("--") + flag + ": " + error;
  if (out < min || out > max)
    return std::string("--") + flag + " must be between " + std::to_string(min) + " and " +
           std::to_string(max);
  return "";
}

std::string positive_seconds(const char* flag, const std::string& text, double& out) {
  std::string error;
  if (!parse_value(text, out, error) || out <= 0)
    return std::string("--") + flag + " must be a positive number of seconds";
  return "";
}

std::string not_empty(const char* flag, const std::string& text, const char* what, std::string& out) {
  out = text;
  return text.empty() ? std::string("--") + flag + " needs " + what : "";
}

// A results file can be written where the user says: found out now, not
// after the job has run. Nothing is left behind by the check.
std::string writable_results(const std::string& path) {
  if (path.empty()) return "--results needs a file name";
  std::string target = results_target(path);
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(target.c_str());
    return "";
  }
  if (errno == EEXIST) fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return "";
  }
  return "--results " + path + ": cannot write it: " + std::strerror(errno);
}

const std::vector<Flag>& flag_table() {
  static const char* kWhere = "Where the job runs";
  static const char* kControl = "The controller (also the embedded default)";
  static const char* kCluster = "Clusters";
  static const char* kTests = "Tests and experiments";
  static const std::vector<Flag> flags = {
      {"workers", "N",
       "worker processes of the embedded default (default 2, or auto on a machine of several NUMA nodes); "
       "auto: one per NUMA node, pinned to its cores; with --in-process, workers as threads",
       kEmbedded | kInProcess,
       [](const std::string& v, Flags& f) {
         f.workers_given = true;
         f.workers_auto = v == "auto";
         return f.workers_auto ? "" : integer("workers", v, 1, 256, f.workers);
       },
       kWhere},
      {"in-process", nullptr, "run the job in this process, workers as threads", kEmbedded | kInProcess,
       [](const std::string&, Flags&) { return ""; }, kWhere, "--in-process takes no command",
       kController | kWorker},
      {"threads", "N", "compute threads per worker (default: the cores, shared among this machine's workers)",
       kEmbedded | kInProcess | kWorker,
       [](const std::string& v, Flags& f) { return integer("threads", v, 1, 1024, f.threads); }, kWhere},
      {"numa-node", "N", "worker: run on NUMA node N's cores, one compute thread pinned to each", kWorker,
       [](const std::string& v, Flags& f) {
         if (!f.cpus.empty()) return std::string("give a worker --numa-node or --cpus, not both");
         return integer("numa-node", v, 0, 4095, f.numa_node);
       },
       kWhere},
      {"cpus", "LIST", "worker: run on these CPUs (e.g. 0-3,8), one compute thread pinned to each", kWorker,
       [](const std::string& v, Flags& f) {
         if (f.numa_node >= 0) return std::string("give a worker --numa-node or --cpus, not both");
         f.cpus = v;
         return v.empty() ? std::string("--cpus needs a CPU list, e.g. 0-3,8") : std::string();
       },
       kWhere},
      {"results", "FILE", "write {\"job\", \"outputs\", \"stats\"} as JSON to FILE", kRunsJob,
       [](const std::string& v, Flags& f) {
         f.results = v;
         return writable_results(v);
       },
       kWhere, "job parameters and --results go to the controller; workers receive them from it", kWorker},
      {"timeout", "S", "give up when a peer stays silent S seconds (default 30)", kAny,
       [](const std::string& v, Flags& f) {
         std::string error;
         return parse_value(v, f.timeout_s, error) && f.timeout_s > 0 ? ""
                                                                      : "--timeout must be a positive number";
       },
       kWhere},
      {"graph", nullptr, "print the job's stage graph (canary-graph/1 JSON) and exit", kAny,
       switch_on(&Flags::graph), kWhere},
      {"listen", "ENDPOINT",
       "controller: where workers reach it, e.g. tcp://0.0.0.0:7100; worker: where it takes data (default: a "
       "free port)",
       kController | kWorker,
       [](const std::string& v, Flags& f) {
         f.listen = v;
         return check_endpoint("listen", v, true);
       },
       kCluster, "--listen, --expect and --controller belong to the controller and worker commands",
       kEmbedded | kInProcess},
      {"expect", "N", "controller: how many workers to wait for", kController,
       [](const std::string& v, Flags& f) { return integer("expect", v, 1, 4096, f.expect); }, kCluster,
       "--listen, --expect and --controller belong to the controller and worker commands",
       kEmbedded | kInProcess},
      {"controller", "ENDPOINT", "worker: the controller's endpoint, e.g. tcp://head:7100", kWorker,
       [](const std::string& v, Flags& f) {
         f.controller = v;
         return check_endpoint("controller", v, false);
       },
       kCluster, "--listen, --expect and --controller belong to the controller and worker commands",
       kEmbedded | kInProcess},
      {"controller-grace", "S",
       "worker: how long to keep its state for a controller started again with --resume once its own has "
       "been silent --timeout S (default 60 for a job with --snapshot-dir, which alone can be resumed)",
       kWorker,
       [](const std::string& v, Flags& f) {
         std::string error;
         return parse_value(v, f.controller_grace_s, error) && f.controller_grace_s >= 0
                    ? ""
                    : "--controller-grace must be a number of seconds, 0 or more";
       },
       kCluster},
      {"host", "NAME", "worker: the name or address other workers reach it by", kWorker,
       [](const std::string& v, Flags& f) { return not_empty("host", v, "a host name or address", f.host); },
       kCluster},
      {"keys", "DIR",
       "authenticate every connection with the cluster's CURVE keys (`JOB keygen DIR` makes them)",
       kControls | kWorker,
       [](const std::string& v, Flags& f) {
         return not_empty("keys", v, "the directory `JOB keygen DIR` wrote", f.keys);
       },
       kCluster, "--in-process opens no socket: --keys and --insecure are for workers and controllers",
       kInProcess},
      {"insecure", nullptr,
       "no keys: listen beyond loopback without them (a cluster), or let the embedded default's processes "
       "talk "
       "unauthenticated",
       kControls | kWorker, switch_on(&Flags::insecure), kCluster,
       "--in-process opens no socket: --keys and --insecure are for workers and controllers", kInProcess},
      {"heartbeat-timeout", "S", "a worker silent S seconds is lost (default 10)", kControls,
       [](const std::string& v, Flags& f) {
         return positive_seconds("heartbeat-timeout", v, f.heartbeat_timeout_s);
       },
       kControl},
      {"snapshot-dir", "DIR",
       "write snapshots under DIR (on a cluster, storage every worker reaches) and survive losing a worker "
       "by "
       "rolling back to the last one",
       kControls,
       [](const std::string& v, Flags& f) {
         return not_empty("snapshot-dir", v, "a directory", f.snapshot_dir);
       },
       kControl, "--in-process cannot lose a worker: --snapshot-dir needs worker processes", kInProcess},
      {"snapshot-required", nullptr,
       "fail the job when a snapshot cannot be written (default: warn, skip it and go on)", kControls,
       switch_on(&Flags::snapshot_required), kControl,
       "--in-process cannot lose a worker: --snapshot-required needs worker processes", kInProcess},
      {"resume", "RUN_DIR",
       "go on with a run whose controller or cluster died, from the newest complete snapshot in RUN_DIR (a "
       "directory --snapshot-dir made), with the parameters recorded there",
       kControls,
       [](const std::string& v, Flags& f) { return not_empty("resume", v, "a run's directory", f.resume); },
       kControl, "--in-process cannot lose a worker: --resume needs worker processes", kInProcess},
      {"snapshot-every", "N", "a snapshot every N iterations of an outermost loop (default 10)", kControls,
       [](const std::string& v, Flags& f) {
         return integer("snapshot-every", v, 1, 1 << 30, f.snapshot_every);
       },
       kControl, "--in-process cannot lose a worker: --snapshot-every needs worker processes", kInProcess},
      {"dispatch", "MODE",
       "local (default: every worker schedules its own tasks) or central (the baseline: the controller "
       "launches "
       "every task, as Spark does)",
       kControls,
       [](const std::string& v, Flags& f) {
         f.central_dispatch = v == "central";
         return v == "local" || v == "central" ? "" : "--dispatch takes local or central";
       },
       kControl},
      {"no-balance", nullptr, "never move partitions off a straggler", kControls,
       switch_on(&Flags::no_balance), kControl, "--in-process does not migrate: --no-balance needs workers",
       kInProcess},
      {"http", "[HOST:]PORT",
       "serve a live page, /status.json and /metrics at PORT (on 127.0.0.1 unless HOST says otherwise; 0: a "
       "free port)",
       kControls,
       [](const std::string& v, Flags& f) { return not_empty("http", v, "a port, or HOST:PORT", f.http); },
       kControl},
      {"partitions-for-automatic", "N",
       "give every canary::automatic dataset N partitions instead of the count the runtime would choose (it "
       "prints its choice)",
       kRunsJob,
       [](const std::string& v, Flags& f) {
         std::string error;
         return parse_partitions(v, f.automatic_partitions, error) ? ""
                                                                   : "--partitions-for-automatic: " + error;
       },
       kWhere, "job parameters and --results go to the controller; workers receive them from it", kWorker},
      {"quiet", nullptr, "no progress line on stderr", kRunsJob, switch_on(&Flags::quiet), kControl},
      {"progress-every", "S",
       "when stderr is no terminal, a progress line every S seconds (default 5; on a terminal one line is "
       "redrawn in place)",
       kRunsJob,
       [](const std::string& v, Flags& f) {
         return positive_seconds("progress-every", v, f.progress_every_s);
       },
       kControl},
      {"slowdown", "F", "make every task F times slower (a straggler, for tests)", kInProcess | kWorker,
       [](const std::string& v, Flags& f) {
         std::string error;
         return parse_value(v, f.slowdown, error) && f.slowdown >= 1 && f.slowdown <= 1000
                    ? ""
                    : "--slowdown takes a factor from 1 to 1000";
       },
       kTests, "--slowdown is for one worker (worker --slowdown F, or --slow-worker W:F) or --in-process",
       kEmbedded | kController},
      {"slow-worker", "W:F", "the embedded default's worker W runs with --slowdown F", kEmbedded,
       [](const std::string& v, Flags& f) {
         return std::sscanf(v.c_str(), "%d:%lf", &f.slow_worker, &f.slowdown) == 2 && f.slow_worker >= 0 &&
                        f.slowdown >= 1 && f.slowdown <= 1000
                    ? ""
                    : "--slow-worker takes WORKER:FACTOR, the factor from 1 to 1000";
       },
       kTests, "--in-process does not migrate: --slow-worker needs workers", kInProcess},
      {"chaos-migrate-ms", "N", "move a random partition group to a random worker every N ms", kControls,
       [](const std::string& v, Flags& f) {
         return integer("chaos-migrate-ms", v, 1, 3600 * 1000, f.chaos_migrate_ms);
       },
       kTests, "--in-process does not migrate: --chaos-migrate-ms needs workers", kInProcess},
      {"chaos-seed", "S", "the seed of those random moves (default 1)", kControls,
       [](const std::string& v, Flags& f) {
         int seed = 0;
         std::string error = integer("chaos-seed", v, 1, INT32_MAX, seed);
         f.chaos_seed = static_cast<unsigned>(seed);
         return error;
       },
       kTests, "--in-process does not migrate: --chaos-seed needs workers", kInProcess},
      {"test-kill-at-snapshot", "K", nullptr, kWorker,
       [](const std::string& v, Flags& f) {
         return integer("test-kill-at-snapshot", v, 1, 1 << 30, f.kill_at_snapshot);
       },
       kTests},
      {"test-kill-at-migration", "K", nullptr, kWorker,
       [](const std::string& v, Flags& f) {
         return integer("test-kill-at-migration", v, 1, 1 << 30, f.kill_at_migration);
       },
       kTests},
      {"run-secret", nullptr, nullptr, kWorker, switch_on(&Flags::run_secret), kTests},
      {"parent", "PID", nullptr, kWorker,
       [](const std::string& v, Flags& f) { return integer("parent", v, 1, 1 << 30, f.parent); }, kTests},
      {"test-stale-map", "W:MS", nullptr, kControls,
       [](const std::string& v, Flags& f) {
         return std::sscanf(v.c_str(), "%d:%d", &f.stale_map_worker, &f.stale_map_ms) == 2 &&
                        f.stale_map_worker >= 0
                    ? ""
                    : "--test-stale-map takes WORKER:MILLISECONDS";
       },
       kTests},
  };
  return flags;
}

// Why a flag given in `mode` does not belong there.
std::string misplaced(const Flag& flag, Mode mode) {
  if (flag.refused_by & role_of(mode)) return flag.refusal;
  std::string name = std::string("--") + flag.name;
  if (mode == Mode::Worker)
    return name + " belongs to the controller; workers receive the job's settings from it";
  if (flag.roles == kWorker) return name + " belongs to a worker";
  if (flag.roles == kEmbedded) return name + " is for the embedded default (no command)";
  if ((flag.roles & kController) == 0) return name + " is not for the controller: give it to the workers";
  return name + " belongs to the controller (or the embedded default)";
}

struct JobParam {
  std::string name, type, default_value;
};

std::vector<JobParam> job_params(const Program& program) {
  std::vector<JobParam> out;
  nlohmann::json graph = nlohmann::json::parse(program.graph_json);
  for (const auto& p : graph["params"])
    out.push_back({p["name"].get<std::string>(), p["type"].get<std::string>(), p["default"].dump()});
  return out;
}

// The parser: every flag of the table (values kept as text, set in table
// order once parsing is done), every job parameter, and the commands.
struct Parser {
  explicit Parser(const Program& program) : params(job_params(program)) {
    app.name(program.job);
    app.description("Runs the Canary job '" + program.job +
                    "'. Without a command: a controller and --workers worker processes on this machine, over "
                    "loopback sockets.");
    app.allow_extras();
    app.set_help_flag("--help", "print this help and exit");
    app.get_formatter()->column_width(30);
    const std::vector<Flag>& table = flag_table();
    values.resize(table.size() + params.size());
    for (std::size_t i = 0; i < table.size(); ++i) {
      const Flag& f = table[i];
      std::string name = std::string("--") + f.name;
      std::string help = f.help ? f.help : "";
      CLI::Option* o = f.value ? app.add_option(name, values[i], help)
                                     ->type_name(f.value)
                                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
                               : app.add_flag(name)->description(help)->disable_flag_override();
      o->group(f.help ? f.group : "");
      options.push_back(o);
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const JobParam& p = params[i];
      try {
        CLI::Option* o =
            app.add_option("--" + p.name, values[table.size() + i], "(default " + p.default_value + ")")
                ->type_name(p.type)
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
                ->group("Job parameters (to the controller, which passes them on)");
        if (p.type == "bool") o->expected(0, 1);  // a bare --flag sets it
        options.push_back(o);
      } catch (const CLI::OptionAlreadyAdded&) {
        clash = "the job parameter '" + p.name + "' has the name of the flag --" + p.name +
                " of every job binary: rename that field of the driver's parameter struct";
        options.push_back(nullptr);
      }
    }
    controller =
        app.add_subcommand("controller", "the controller of a cluster: --listen ENDPOINT --expect N");
    worker = app.add_subcommand("worker", "a worker of a cluster: --controller ENDPOINT");
    keygen = app.add_subcommand("keygen", "write the cluster's CURVE keys to DIR");
    keygen->add_option("DIR", keys_dir)->required();
    for (CLI::App* command : {controller, worker}) command->fallthrough()->allow_extras();
    app.require_subcommand(0, 1);
  }

  std::string parse(int argc, char** argv) {
    if (!clash.empty()) return clash;
    try {
      app.parse(arguments(argc, argv));
    } catch (const CLI::CallForHelp&) {
      help = true;
      return "";
    } catch (const CLI::RequiredError&) {
      return "keygen takes one argument, the directory to write the keys to";
    } catch (const CLI::ParseError& e) {
      std::string what = e.what();
      if (what.find("flag override") != std::string::npos)
        return "--" + what.substr(0, what.find(' ')) + " takes no value";
      std::string flag = what.substr(0, what.find(':'));
      if (flag.rfind("--", 0) == 0) return flag + " needs a value";
      return what;
    }
    std::vector<std::string> extra = app.remaining();
    for (CLI::App* command : {controller, worker, keygen})
      for (const std::string& e : command->remaining()) extra.push_back(e);
    if (extra.empty()) return "";
    const std::string& first = extra.front();
    if (first.rfind("--", 0) == 0)
      return "unknown flag '" + first.substr(0, first.find('=')) + "'; see --help";
    if (argc > 1 && first == argv[1])
      return "unknown command '" + first + "' (expected controller, worker or keygen); see --help";
    return "unexpected argument '" + first + "'; see --help";
  }

  // The arguments as CLI11 takes them, last first. "--name=" with nothing
  // after the '=' gives an option that needs a value the empty one: CLI11
  // would take the next argument for it.
  std::vector<std::string> arguments(int argc, char** argv) const {
    std::vector<std::string> args;
    for (int i = argc - 1; i > 0; --i) {
      std::string arg = argv[i];
      bool empty_value = arg.rfind("--", 0) == 0 && arg.find('=') == arg.size() - 1;
      const CLI::Option* o = empty_value ? app.get_option_no_throw(arg.substr(0, arg.size() - 1)) : nullptr;
      if (o && o->get_expected_min() > 0) {
        args.emplace_back();
        arg.pop_back();
      }
      args.push_back(std::move(arg));
    }
    return args;
  }

  CLI::App app;
  std::vector<JobParam> params;
  std::vector<std::string> values;    // by flag, then by job parameter
  std::vector<CLI::Option*> options;  // the same
  CLI::App *controller, *worker, *keygen;
  std::string keys_dir;
  bool help = false;
  std::string clash;  // a job parameter named like a flag
};

// The checks between flags, once each is known good.
std::string check_together(const Flags& f) {
  switch (f.mode) {
    case Mode::Controller:
      if (f.listen.empty() || f.expect == 0) return "controller needs --listen ENDPOINT and --expect N";
      break;
    case Mode::Worker:
      if (f.controller.empty()) return "worker needs --controller ENDPOINT";
      break;
    case Mode::Embedded:
      if (f.slow_worker >= f.workers) return "--slow-worker names a worker beyond --workers";
      break;
    default:
      break;
  }
  if ((f.snapshot_every || f.snapshot_required) && f.snapshot_dir.empty() && f.resume.empty())
    return "--snapshot-every and --snapshot-required need --snapshot-dir";
  if (f.central_dispatch && (!f.snapshot_dir.empty() || f.chaos_migrate_ms))
    return "--dispatch=central does not migrate or snapshot: drop --snapshot-dir and --chaos-migrate-ms";
  return "";
}

// --resume: the parameters and where the cuts lie come from the run's
// record, and only a binary with the same stage graph may take it on.
std::string take_run(const Program& program, void* params, Flags& f) {
  if (!f.params.empty())
    return "--resume takes the job's parameters from " + f.resume + ": drop --" +
           f.params.front().substr(0, f.params.front().find('='));
  if (!f.snapshot_dir.empty() || f.snapshot_every)
    return "--resume writes its snapshots where the run did: drop --snapshot-dir and --snapshot-every";
  Result<RunRecord> run = SnapshotStore::read_run(f.resume);
  if (!run.ok()) return "--resume: " + run.why();
  if (run.value().job != program.job)
    return "--resume: " + f.resume + " is a run of job '" + run.value().job + "', not of '" + program.job +
           "'";
  if (run.value().graph != detail::fnv1a64(program.graph_json))
    return "--resume: " + f.resume + " was written by another build of " + program.job +
           " (its stage graph differs): resume it with the binary that started it";
  for (const std::string& p : run.value().params) {
    std::string error;
    if (!set_param_from(program, params, p, error))
      return "--resume: " + f.resume + " records a parameter this job does not take: " + p + " (" + error +
             ")";
  }
  f.params = run.value().params;
  f.snapshot_every = run.value().snapshot_every;
  return "";
}

// A base-10 integer from `lo` to `hi`; `type` names that range in the error.
bool parse_integer(const std::string& text, long lo, long hi, const char* type, long& out,
                   std::string& error) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') {
    error = "'" + text + "' is not an integer";
    return false;
  }
  if (errno == ERANGE || v < lo || v > hi) {
    error = "'" + text + "' is out of range for " + type;
    return false;
  }
  out = v;
  return true;
}

}  // namespace

bool parse_value(const std::string& text, long& out, std::string& error) {
  return parse_integer(text, LONG_MIN, LONG_MAX, "a long", out, error);
}

bool parse_value(const std::string& text, int& out, std::string& error) {
  long v = 0;
  if (!parse_integer(text, INT_MIN, INT_MAX, "an int", v, error)) return false;
  out = static_cast<int>(v);
  return true;
}

bool parse_partitions(const std::string& text, int& out, std::string& error) {
  int v = 0;
  if (!parse_value(text, v, error)) return false;
  if (v < 1 || v > kMaxPartitions) {
    error = "a partition count is from 1 to " + std::to_string(kMaxPartitions) + ", not " + text;
    return false;
  }
  out = v;
  return true;
}

bool set_param_from(const Program& program, void* params, const std::string& assignment, std::string& error) {
  std::size_t equals = assignment.find('=');
  if (equals == std::string::npos) {
    error = "expected name=value";
    return false;
  }
  if (program.set_param(params, assignment.substr(0, equals), assignment.substr(equals + 1), error))
    return true;
  if (error.empty()) error = "this job has no parameter '" + assignment.substr(0, equals) + "'";
  return false;
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
    error = "'" + text + "' is not a boolean (true, false, yes, no, 1 or 0)";
    return false;
  }
  return true;
}

bool parse_value(const std::string& text, std::string& out, std::string&) {
  out = text;
  return true;
}

std::string check_endpoint(const std::string& flag, const std::string& endpoint, bool bind) {
  std::string bad = "--" + flag + " " + endpoint + ": ";
  if (endpoint.rfind("tcp://", 0) != 0) return bad + "expected tcp://HOST:PORT";
  std::string rest = endpoint.substr(6);
  std::size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad + "expected tcp://HOST:PORT";
  std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.find_first_of(" \t/") != std::string::npos) return bad + "'" + host + "' is not a host";
  if (bind && port == "*") return "";
  int number = -1;
  std::string error;
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      !parse_value(port, number, error) || number > 65535 || (!bind && number == 0))
    return bad + "the port must be a number from " + (bind ? "0 (any free port)" : std::string("1")) +
           " to 65535" + (bind ? ", or *" : "");
  return "";
}

std::string help_text(const Program& program) { return Parser(program).app.help(); }

// The flags' setters return "" or what is wrong, as CLI11's validators do;
// here, at the boundary, that becomes a Status.
std::string parse_flags(const Program& program, int argc, char** argv, Flags& f, void* params) {
  Parser p(program);
  std::string error = p.parse(argc, argv);
  if (!error.empty()) return error;
  if (p.help) {
    f.help = true;
    return "";
  }
  if (p.keygen->parsed()) {
    f.mode = Mode::Keygen;
    f.keys = p.keys_dir;
    return "";
  }
  if (p.controller->parsed()) f.mode = Mode::Controller;
  if (p.worker->parsed()) f.mode = Mode::Worker;
  const std::vector<Flag>& table = flag_table();
  for (std::size_t i = 0; i < table.size(); ++i)  // the mode first: it decides which flags belong
    if (table[i].name == std::string("in-process") && p.options[i]->count() && f.mode == Mode::Embedded)
      f.mode = Mode::InProcess;
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (p.options[i]->count() == 0) continue;
    const Flag& flag = table[i];
    if ((flag.roles & role_of(f.mode)) == 0) return misplaced(flag, f.mode);
    std::string problem = flag.set(p.values[i], f);
    if (!problem.empty()) return problem;
  }
  for (std::size_t i = 0; i < p.params.size(); ++i) {
    if (p.options[table.size() + i]->count() == 0) continue;
    const std::string& name = p.params[i].name;
    std::string value = p.values[table.size() + i];
    if (value.empty() && p.params[i].type == "bool") value = "true";
    if (f.mode == Mode::Worker)
      return "job parameters and --results go to the controller; workers receive them from it";
    std::string problem;
    if (!program.set_param(params, name, value, problem)) return "--" + name + ": " + problem;
    f.params.push_back(name + "=" + value);
  }
  if (f.automatic_partitions > 0) {
    if (!has_automatic(program))
      return "--partitions-for-automatic: this job declares no dataset with canary::automatic partitions";
    std::string count = std::to_string(f.automatic_partitions), problem;
    program.set_param(params, kAutomaticParam, count, problem);
    f.params.push_back(std::string(kAutomaticParam) + "=" + count);
  }
  if (f.help || f.graph) return "";
  if (!f.resume.empty()) {
    std::string problem = take_run(program, params, f);
    if (!problem.empty()) return problem;
  }
  return check_together(f);
}

Status parse_command_line(const Program& program, int argc, char** argv, Flags& flags, void* params) {
  std::string problem = parse_flags(program, argc, argv, flags, params);
  return problem.empty() ? Status::fine() : Status::error(problem);
}

}  // namespace canary::rt
