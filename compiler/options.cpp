#include "options.h"

namespace canary::compiler {

const char* const kUsage =
    "usage: canaryc [options] DRIVER.cpp [-- clang arguments]\n"
    "\n"
    "Checks a Canary driver, emits its stage graph and builds its job binary.\n"
    "\n"
    "  -o OUT         write the job to OUT (and its graph to OUT.graph.json);\n"
    "                 default: the driver's name without .cpp\n"
    "  -MD            also write OUT.d, the driver's and its headers' paths as a\n"
    "                 Makefile rule, so build tools rebuild the job when they change\n"
    "  --emit=graph   only check the driver and print its stage graph as JSON\n"
    "  --emit=dot     only check the driver and print its stage graph as Graphviz\n"
    "  --emit=html    only check the driver and print a web page that draws its graph\n"
    "  -I DIR         add DIR to the include path\n"
    "  -D NAME[=VAL]  define a macro\n"
    "  -std=STD       the C++ standard (default c++17)\n"
    "  -p BUILD_DIR   take the driver's flags from BUILD_DIR/compile_commands.json\n"
    "  --version      print the version\n"
    "  -h, --help     print this help\n";

namespace {

// Matches `-X VALUE` and `-XVALUE`; advances `i` past what it used.
bool take_joined_or_separate(const std::vector<std::string>& args, std::size_t& i, const std::string& flag,
                             std::string& value, std::string& error) {
  const std::string& a = args[i];
  if (a.compare(0, flag.size(), flag) != 0) return false;
  if (a.size() > flag.size()) {
    value = a.substr(flag.size());
  } else if (i + 1 < args.size()) {
    value = args[++i];
  } else {
    error = "missing value after '" + flag + "'";
  }
  return true;
}

}  // namespace

std::optional<Options> parse_options(const std::vector<std::string>& args, std::string& error) {
  Options o;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& a = args[i];
    std::string value;
    if (a == "--") {
      o.frontend.clang_args.insert(o.frontend.clang_args.end(), args.begin() + i + 1, args.end());
      break;
    } else if (a == "-h" || a == "--help") {
      o.help = true;
    } else if (a == "--version") {
      o.version = true;
    } else if (a == "-MD") {
      o.depfile = true;
    } else if (a.rfind("--emit=", 0) == 0) {
      std::string what = a.substr(7);
      if (what == "graph" || what == "json") {
        o.emit = Emit::Graph;
      } else if (what == "dot") {
        o.emit = Emit::Dot;
      } else if (what == "html") {
        o.emit = Emit::Html;
      } else {
        error = "unknown --emit kind '" + what + "' (expected graph, dot or html)";
      }
    } else if (a.rfind("-std=", 0) == 0) {
      o.frontend.clang_args.push_back(a);
    } else if (take_joined_or_separate(args, i, "-I", value, error)) {
      o.frontend.clang_args.push_back("-I" + value);
    } else if (take_joined_or_separate(args, i, "-D", value, error)) {
      o.frontend.clang_args.push_back("-D" + value);
    } else if (take_joined_or_separate(args, i, "-o", value, error)) {
      o.output = value;
    } else if (take_joined_or_separate(args, i, "-p", value, error)) {
      o.frontend.build_dir = value;
    } else if (a.size() > 1 && a[0] == '-') {
      error = "unknown argument '" + a + "'; see canaryc --help";
    } else {
      positional.push_back(a);
    }
  }
  if (!error.empty()) return std::nullopt;
  if (o.help || o.version) return o;
  if (o.depfile && o.emit != Emit::Build) {
    error = "-MD writes OUT.d beside the job it builds; with --emit there is none";
    return std::nullopt;
  }
  if (positional.size() != 1) {
    error = positional.empty() ? "no driver file given; see canaryc --help"
                               : "one driver file at a time, got " + std::to_string(positional.size());
    return std::nullopt;
  }
  o.frontend.driver = positional[0];
  if (o.output.empty()) {
    std::string base = o.frontend.driver.substr(o.frontend.driver.find_last_of('/') + 1);
    o.output = base.substr(0, base.rfind('.'));
  }
  return o;
}

}  // namespace canary::compiler
