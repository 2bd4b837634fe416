#include "build.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <sstream>

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

extern char** environ;

namespace canary::compiler {
namespace {

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

bool find_toolchain(Toolchain& t, std::string& error) {
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, nullptr);
  std::string prefix = llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)).str();
  const char* cxx = std::getenv("CANARY_CXX");
  t.cxx = cxx && *cxx ? cxx : CANARY_DEFAULT_CXX;
  t.library = prefix + "/lib/libcanary.a";
  if (exists(prefix + "/include/canary/program.h")) {
    t.include_dirs = {prefix + "/include"};
  } else {
    t.include_dirs = {CANARY_SOURCE_DSL_DIR, CANARY_SOURCE_RUNTIME_DIR};
  }
  if (!exists(t.library)) {
    error = "cannot find libcanary at " + t.library + "; build the 'canary' target or reinstall Canary";
    return false;
  }
  return true;
}

std::string build_job(const Toolchain& t, const std::string& tasks_cpp, const std::string& output,
                      const std::vector<std::string>& flags) {
  std::vector<std::string> args = {t.cxx, "-std=c++17", "-O2", "-g"};
  for (const std::string& dir : t.include_dirs) args.push_back("-I" + dir);
  args.insert(args.end(), flags.begin(), flags.end());  // a -std= here wins over the default above
#ifdef CANARY_JOB_SANITIZE                              // the sanitizer build's flags, space-separated
  std::istringstream sanitize(CANARY_JOB_SANITIZE);
  for (std::string flag; sanitize >> flag;) args.push_back(flag);
#endif
  // libcanary's own dependencies, from Debian's libzmq3-dev, libcapnp-dev, libcpp-httplib-dev and
  // libhwloc-dev.
  args.insert(args.end(), {tasks_cpp, "-o", output, t.library, "-lzmq", "-lcapnp", "-lkj", "-lcpp-httplib",
                           "-lhwloc", "-lz", "-lpthread"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
    return "cannot run the C++ compiler '" + t.cxx + "'; install it or name another with CANARY_CXX";
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "the job does not compile (the compiler's errors are above); nothing was written";
  return "";
}

}  // namespace canary::compiler
