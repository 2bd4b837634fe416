// The job binary's command line (DESIGN.md section 3) and the end of a run:
// outputs printed, the results file written, a clear exit code.
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "canary/program.h"
#include "scheduler.h"

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

namespace {

struct JobFlags {
  int threads = 0;  // 0: the core count
  std::string results;
  bool graph = false;
  bool help = false;
};

void print_help(const Program& program) {
  std::cout << "usage: " << program.job
            << " [--in-process] [--threads N] [--results FILE] [--PARAM=VALUE ...]\n"
            << "       " << program.job << " --graph\n\n"
            << "Runs the Canary job '" << program.job << "'.\n\n"
            << "  --in-process     run the job's workers as threads of this process (the default for now)\n"
            << "  --threads N      compute threads (default: the core count)\n"
            << "  --results FILE   write {\"job\", \"outputs\", \"stats\"} as JSON to FILE\n"
            << "  --graph          print the job's stage graph (canary-graph/1 JSON) and exit\n\n"
            << "Job parameters:\n";
  nlohmann::json graph = nlohmann::json::parse(program.graph_json);
  for (const auto& p : graph["params"])
    std::cout << "  --" << p["name"].get<std::string>() << "=" << p["type"].get<std::string>()
              << "   (default " << p["default"].dump() << ")\n";
}

// Parses the command line into `flags` and the parameter struct. Returns
// an error message, empty when all is well.
std::string parse_command_line(const Program& program, int argc, char** argv, JobFlags& flags, void* params) {
  if (argc > 1 && argv[1][0] != '-') {
    std::string mode = argv[1];
    if (mode == "controller" || mode == "worker")
      return "'" + mode +
             "' needs the distributed runtime, which this build does not have yet; run with --in-process";
    return "unknown command '" + mode + "'; see --help";
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) return "unexpected argument '" + arg + "'; see --help";
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "help") {
      flags.help = true;
      continue;
    }
    if (name == "graph") {
      flags.graph = true;
      continue;
    }
    if (name == "in-process") continue;
    if (!has_value) {
      if (i + 1 >= argc) return "--" + name + " needs a value";
      value = argv[++i];
    }
    std::string error;
    if (name == "threads") {
      if (!parse_value(value, flags.threads, error)) return "--threads: " + error;
      if (flags.threads < 1 || flags.threads > 1024) return "--threads must be between 1 and 1024";
    } else if (name == "results") {
      flags.results = value;
    } else if (name == "workers") {
      return "--workers needs the distributed runtime, which this build does not have yet; use --in-process";
    } else if (!program.set_param(params, name, value, error)) {
      if (error.empty()) return "unknown flag '--" + name + "'; see --help";
      return "--" + name + ": " + error;
    }
  }
  return "";
}

std::string results_json(const Program& program, const Outputs& outputs, const RunStats& stats, int threads) {
  nlohmann::ordered_json stats_json = {
      {"elapsed_s", stats.elapsed_s},
      {"tasks", stats.tasks},
      {"tasks_per_worker", {stats.tasks}},
      {"tasks_per_thread", stats.tasks_per_thread},
      {"workers", 1},
      {"threads_per_worker", threads},
      {"stage_instances", stats.stage_instances},
      {"scheduler_cpu_s", stats.scheduler_cpu_s},
      {"task_cpu_s", stats.task_cpu_s},
      {"scheduler_ns_per_task", stats.tasks ? stats.scheduler_cpu_s * 1e9 / stats.tasks : 0.0},
  };
  nlohmann::ordered_json out = {{"job", program.job},
                                {"outputs", nlohmann::ordered_json::parse(outputs.to_json())},
                                {"stats", stats_json}};
  return out.dump(2) + "\n";
}

}  // namespace

int job_main(const Program& program, int argc, char** argv) {
  std::unique_ptr<void, void (*)(void*)> params(program.new_params(), program.delete_params);
  JobFlags flags;
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
  int threads = flags.threads > 0 ? flags.threads : std::max(1u, std::thread::hardware_concurrency());
  try {
    program.bind(params.get());
    Outputs outputs(program);
    RunStats stats = LocalScheduler(program, params.get(), RunConfig{threads}, outputs).run();
    std::string results = results_json(program, outputs, stats, threads);
    if (!flags.results.empty()) {
      std::ofstream out(flags.results);
      if (!(out << results)) {
        std::cerr << program.job << ": error: cannot write results to " << flags.results << "\n";
        return 1;
      }
    }
    nlohmann::json outs = nlohmann::json::parse(outputs.to_json());
    for (const auto& [key, value] : outs.items()) std::cout << key << " = " << value.dump() << "\n";
    std::cerr << program.job << ": done in " << stats.elapsed_s << " s, " << stats.tasks << " tasks on "
              << threads << " thread(s)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << program.job << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace canary::rt
