// canaryc's command line: compiler-style flags, parsed without side effects
// so that tests can check every combination.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "frontend.h"

namespace canary::compiler {

enum class Emit { Build, Graph, Dot, Html };

struct Options {
  FrontendOptions frontend;
  Emit emit = Emit::Build;
  std::string output;    // -o: the job binary; its graph goes to OUTPUT.graph.json
  bool depfile = false;  // -MD: also OUTPUT.d, the files the driver read, for make and Ninja
  bool help = false;
  bool version = false;
};

// Parses argv (without argv[0]); on a bad command line returns nothing and
// sets `error` to one line saying what is wrong.
std::optional<Options> parse_options(const std::vector<std::string>& args, std::string& error);

extern const char* const kUsage;

}  // namespace canary::compiler
