// Runs a job binary as a real process and reads what it reports.
#pragma once

#include <fcntl.h>
#include <spawn.h>
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
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline JobRun run_job(const std::string& binary, std::vector<std::string> args) {
  static int counter = 0;
  std::string base = "/tmp/canary-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::string results = base + ".json";
  args.insert(args.begin(), binary);
  args.push_back("--results=" + results);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, (base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, 2, (base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  JobRun run;
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&files);
  run.out = slurp(base + ".out");
  run.err = slurp(base + ".err");
  std::string json = slurp(results);
  if (!json.empty()) run.results = nlohmann::json::parse(json);
  for (const char* ext : {".out", ".err", ".json"}) std::remove((base + ext).c_str());
  return run;
}

}  // namespace canary::testing
