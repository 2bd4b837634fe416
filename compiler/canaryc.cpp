// canaryc: the Canary driver compiler. The pipeline, one pass per file:
//   options -> frontend (clang parse, extract, check_job, build_graph) -> emit
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "build.h"
#include "codegen.h"
#include "emit.h"
#include "options.h"
#include "viewer.h"

namespace {

using canary::compiler::Emit;

bool readable_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), R_OK) == 0;
}

// Writes `text` to `path` through a temporary name, so that a failed run
// never leaves a partial file behind.
bool write_file(const std::string& path, const std::string& text) {
  std::error_code ignored;  // a directory that cannot be made shows up as a failed write
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return false;
    }
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// A Makefile rule: `target: inputs`, spaces escaped as make and Ninja read them.
std::string depfile_rule(const std::string& target, const std::vector<std::string>& inputs) {
  auto escaped = [](const std::string& path) {
    std::string out;
    for (char c : path) {
      if (c == ' ' || c == '#') out += '\\';
      if (c == '$') out += '$';
      out += c;
    }
    return out;
  };
  std::string rule = escaped(target) + ":";
  for (const std::string& f : inputs) rule += " \\\n  " + escaped(f);
  return rule + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  std::optional<canary::compiler::Options> options =
      canary::compiler::parse_options(std::vector<std::string>(argv + 1, argv + argc), error);
  if (!options) {
    std::cerr << "canaryc: error: " << error << "\n";
    return 1;
  }
  if (options->help) {
    std::cout << canary::compiler::kUsage;
    return 0;
  }
  if (options->version) {
    std::cout << "canaryc " CANARY_VERSION " (clang " CANARY_CLANG_VERSION ")\n";
    return 0;
  }
  if (!readable_file(options->frontend.driver)) {
    std::cerr << "canaryc: error: cannot read driver '" << options->frontend.driver << "'\n";
    return 1;
  }

  canary::compiler::Toolchain toolchain;
  if (options->emit == Emit::Build && !canary::compiler::find_toolchain(toolchain, error)) {
    std::cerr << "canaryc: error: " << error << "\n";
    return 1;
  }
  std::vector<std::string> driver_flags, inputs;
  std::optional<canary::compiler::Graph> graph =
      canary::compiler::analyze_driver(options->frontend, &driver_flags, &inputs);
  if (!graph) return 1;

  // Names and defaults are checked to be UTF-8; a source path need not be.
  std::string graph_json =
      canary::compiler::graph_to_json(*graph).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  switch (options->emit) {
    case Emit::Graph:
      std::cout << graph_json;
      return 0;
    case Emit::Dot:
      std::cout << canary::compiler::graph_to_dot(*graph);
      return 0;
    case Emit::Html:
      std::cout << canary::graph_viewer_with(graph_json);
      return 0;
    case Emit::Build:
      break;
  }
  // The three outputs appear together or not at all.
  const std::string& out = options->output;
  std::string graph_path = out + ".graph.json", tasks_path = out + ".tasks.cpp";
  std::string driver = std::filesystem::absolute(options->frontend.driver).lexically_normal().string();
  std::string tasks = canary::compiler::generate_tasks_cpp(*graph, graph_json, driver, tasks_path);
  if (!write_file(graph_path, graph_json) || !write_file(tasks_path, tasks)) {
    std::cerr << "canaryc: error: cannot write " << graph_path << " or " << tasks_path << "\n";
    std::remove(graph_path.c_str());
    return 1;
  }
  std::string binary_tmp = out + ".tmp";
  error = canary::compiler::build_job(toolchain, tasks_path, binary_tmp, driver_flags);
  if (!error.empty() || std::rename(binary_tmp.c_str(), out.c_str()) != 0) {
    std::cerr << "canaryc: error: " << (error.empty() ? "cannot write " + out : error) << "\n";
    for (const std::string& f : {graph_path, tasks_path, binary_tmp}) std::remove(f.c_str());
    return 1;
  }
  std::string target = std::filesystem::absolute(out).lexically_normal().string();
  if (options->depfile && !write_file(out + ".d", depfile_rule(target, inputs))) {
    std::cerr << "canaryc: error: cannot write " << out << ".d\n";
    return 1;
  }
  return 0;
}
