// canaryc: the Canary driver compiler. The pipeline, one pass per file:
//   options -> frontend (clang parse, extract, check_job, build_graph) -> emit
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "emit.h"
#include "options.h"

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

  std::optional<canary::compiler::Graph> graph = canary::compiler::analyze_driver(options->frontend);
  if (!graph) return 1;

  switch (options->emit) {
    case Emit::Graph:
      std::cout << canary::compiler::graph_to_json(*graph).dump(2) << "\n";
      return 0;
    case Emit::Dot:
      std::cout << canary::compiler::graph_to_dot(*graph);
      return 0;
    case Emit::Build:
      break;
  }
  std::string graph_path = options->output + ".graph.json";
  if (!write_file(graph_path, canary::compiler::graph_to_json(*graph).dump(2) + "\n")) {
    std::cerr << "canaryc: error: cannot write " << graph_path << "\n";
    return 1;
  }
  return 0;
}
