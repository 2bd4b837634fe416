// Runs a job binary as a real process and reads what it reports.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace canary::testing {

struct JobRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  nlohmann::json results;  // --results, when the job wrote it
  long max_rss_kb = 0;     // the largest resident set of the process and the children it waited for
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A job binary started in the background.
struct JobProcess {
  pid_t pid = -1;
  std::string base;  // where its stdout, stderr and results go
};

inline JobProcess start_job(const std::string& binary, std::vector<std::string> args, bool results = true) {
  static int counter = 0;
  JobProcess p;
  p.base = "/tmp/canary-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  args.insert(args.begin(), binary);
  if (results) args.push_back("--results=" + p.base + ".json");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, (p.base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, 2, (p.base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (posix_spawn(&p.pid, argv[0], &files, nullptr, argv.data(), environ) != 0) p.pid = -1;
  posix_spawn_file_actions_destroy(&files);
  return p;
}

// Waits for the process and collects what it reported.
inline JobRun finish_job(const JobProcess& p) {
  JobRun run;
  if (p.pid > 0) {
    int status = 0;
    rusage usage{};
    wait4(p.pid, &status, 0, &usage);
    run.max_rss_kb = usage.ru_maxrss;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  run.out = slurp(p.base + ".out");
  run.err = slurp(p.base + ".err");
  std::string json = slurp(p.base + ".json");
  if (!json.empty()) run.results = nlohmann::json::parse(json);
  for (const char* ext : {".out", ".err", ".json"}) std::remove((p.base + ext).c_str());
  return run;
}

inline JobRun run_job(const std::string& binary, std::vector<std::string> args) {
  return finish_job(start_job(binary, std::move(args)));
}

// A loopback TCP port nobody listens on right now (0 if none could be had).
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

}  // namespace canary::testing
