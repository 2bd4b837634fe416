// The last pass: compiles OUT.tasks.cpp with libcanary into the job binary.
// Finds the C++ compiler, Canary's headers and libcanary next to canaryc
// once installed, or in the build tree.
#pragma once

#include <string>
#include <vector>

namespace canary::compiler {

struct Toolchain {
  std::string cxx;                        // $CANARY_CXX, else the compiler canaryc was configured with
  std::vector<std::string> include_dirs;  // where <canary/dsl.h> and <canary/program.h> are
  std::string library;                    // libcanary.a
};

// Returns false with `error` set when something is missing.
bool find_toolchain(Toolchain& toolchain, std::string& error);

// Runs the compiler; its diagnostics go to stderr. `flags` are the driver's
// own (-I, -D, -std=, ...). Returns an error message, empty on success.
std::string build_job(const Toolchain& toolchain, const std::string& tasks_cpp, const std::string& output,
                      const std::vector<std::string>& flags);

}  // namespace canary::compiler
