// Placement on NUMA machines, on this one: hwloc's synthetic topologies
// (HWLOC_SYNTHETIC) stand in for a machine of several nodes, and each
// thread's affinity is read back from the kernel (/proc/PID/task/*/status).
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "run_job.h"
#include "serial_reference.h"

using namespace canary::testing;
namespace fs = std::filesystem;

namespace {

// Sets an environment variable for the job processes a test starts.
struct Environment {
  Environment(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~Environment() { unsetenv(name_); }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  const char* name_;
};

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
  for (pid_t child; in >> child;) children.push_back(child);
  return children;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Thread name -> the CPUs the kernel lets it run on, as /proc lists them.
std::map<std::string, std::string> affinity_of_threads(pid_t pid) {
  std::map<std::string, std::string> threads;
  std::error_code error;
  for (const fs::directory_entry& task :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::string name = trimmed(slurp(task.path() / "comm"));
    std::istringstream status(slurp(task.path() / "status"));
    for (std::string line; std::getline(status, line);)
      if (line.rfind("Cpus_allowed_list:", 0) == 0) threads[name] = trimmed(line.substr(line.find(':') + 1));
  }
  for (auto& [name, cpus] : threads) cpus.erase(0, cpus.find_first_not_of(" \t"));
  return threads;
}

}  // namespace

TEST_CASE(
    "on a machine of two NUMA nodes the embedded default runs one worker per node, pinned to its cores") {
  Environment two_nodes("HWLOC_SYNTHETIC", "node:2 core:1 pu:1");
  JobProcess job = start_job(CANARY_JOB_logistic_regression,
                             {"--partitions=4", "--iterations=150", "--samples=200000", "--rate=0.5"});
  // While it runs: every worker's shard thread, and the rest of its threads.
  std::map<pid_t, std::map<std::string, std::string>> seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    for (pid_t worker : children_of(job.pid)) {
      std::map<std::string, std::string> threads = affinity_of_threads(worker);
      if (threads.count("shard 0")) seen[worker] = threads;
    }
    if (seen.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  JobRun r = finish_job(job);
  REQUIRE(r.exit_code == 0);
  REQUIRE(seen.size() == 2);
  std::set<std::string> shard_cpus;
  for (const auto& worker : seen) {
    INFO("worker process ", worker.first);
    const std::map<std::string, std::string>& threads = worker.second;
    CHECK(threads.count("shard 1") == 0);  // one core per node: one compute thread
    shard_cpus.insert(threads.at("shard 0"));
    for (const auto& [name, cpus] : threads) CHECK(cpus == threads.at("shard 0"));  // ZeroMQ's too
  }
  CHECK(shard_cpus == std::set<std::string>{"0", "1"});
  const nlohmann::json& workers = r.results["stats"]["workers"];
  REQUIRE(workers.size() == 2);
  std::set<std::pair<int, std::vector<int>>> placed;
  for (const nlohmann::json& w : workers)
    placed.insert({w["numa_node"].get<int>(), w["cpus"].get<std::vector<int>>()});
  CHECK(placed == std::set<std::pair<int, std::vector<int>>>{{0, {0}}, {1, {1}}});
  check_close(r.results["outputs"]["weights"], serial_logistic_regression(4, 150, 200000, 0.5));
}

TEST_CASE("on one NUMA node the embedded default runs --workers unpinned, and says so") {
  JobRun r = run_ok(CANARY_JOB_logistic_regression, {"--partitions=2", "--iterations=2", "--samples=2000"});
  REQUIRE(r.results["stats"]["workers"].size() == 2);
  for (const nlohmann::json& w : r.results["stats"]["workers"]) {
    CHECK(w["cpus"].empty());
    CHECK(w["numa_node"].is_null());
  }
}

TEST_CASE("a hand-started worker runs its compute threads on the CPUs --cpus names") {
  int port = free_port();
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  JobProcess controller = start_job(CANARY_JOB_logistic_regression,
                                    {"controller", "--listen", endpoint, "--expect", "1", "--partitions=3",
                                     "--iterations=3", "--samples=3000", "--rate=0.5"});
  JobProcess worker = start_job(CANARY_JOB_logistic_regression,
                                {"worker", "--controller", endpoint, "--cpus", "1", "--threads", "2"}, false);
  JobRun w = finish_job(worker);
  JobRun r = finish_job(controller);
  CHECK(w.exit_code == 0);
  REQUIRE(r.exit_code == 0);
  CHECK(r.results["stats"]["workers"][0]["cpus"] == std::vector<int>{1});
  check_close(r.results["outputs"]["weights"], serial_logistic_regression(3, 3, 3000, 0.5));
}

TEST_CASE("bad CPU lists and NUMA nodes are refused with one line that says what the machine has") {
  auto refused = [](std::vector<std::string> flags, const std::string& expected) {
    CAPTURE(expected);
    flags.insert(flags.begin(), {"worker", "--controller", "tcp://127.0.0.1:1"});
    JobRun r = finish_job(start_job(CANARY_JOB_logistic_regression, flags, false));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "logistic_regression: error: " + expected + "\n");
  };
  refused({"--cpus", "0-x"}, "--cpus 0-x: expected CPU numbers and ranges, e.g. 0-3,8");
  refused({"--cpus", "3-1"}, "--cpus 3-1: expected CPU numbers and ranges, e.g. 0-3,8");
  refused({"--cpus", "0,,1"}, "--cpus 0,,1: expected CPU numbers and ranges, e.g. 0-3,8");
  refused({"--cpus", "999"}, "--cpus 999: CPU 999 is not one this process may run on (0-1)");
  refused({"--numa-node", "3"}, "--numa-node 3: this machine has one NUMA node, 0");
  refused({"--numa-node", "0", "--cpus", "1"}, "give a worker --numa-node or --cpus, not both");

  Environment four_nodes("HWLOC_SYNTHETIC", "node:4 core:1 pu:1");  // more nodes than this machine has CPUs
  JobRun r = run_job(CANARY_JOB_logistic_regression, {"--iterations=1"});
  CHECK(r.exit_code != 0);
  CHECK(r.err ==
        "logistic_regression: error: one worker per NUMA node: --numa-node 2: CPU 2 is not one this process "
        "may "
        "run on (0-1)\n");
}
