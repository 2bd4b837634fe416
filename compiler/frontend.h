// Runs Clang on a driver and the front-end passes on what it parsed:
// extraction, the job checks, and graph building. Diagnostics go to stderr in
// clang's format, with the source line and a caret.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph.h"

namespace canary::compiler {

struct FrontendOptions {
  std::string driver;                   // the driver source file
  std::vector<std::string> clang_args;  // -I, -D, -std= and arguments after --
  std::string build_dir;                // -p: where compile_commands.json is, if given
};

// The stage graph of a driver, or nothing when any error was reported.
// `driver_flags`, when given, receives the flags the driver must be compiled
// with (-I, -D, -U, -std= ..., from -p's database and the command line), with
// include paths made absolute; `inputs`, the files Clang read (the driver and
// every header it includes), for build tools' dependency files.
std::optional<Graph> analyze_driver(const FrontendOptions& options,
                                    std::vector<std::string>* driver_flags = nullptr,
                                    std::vector<std::string>* inputs = nullptr);

// Where <canary/dsl.h> is: next to canaryc once installed, else the source tree.
std::string dsl_include_dir();

}  // namespace canary::compiler
