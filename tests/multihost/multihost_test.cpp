// Issue 10's multi-host test: three "hosts" on this machine (network
// namespaces with their own addresses, joined by a bridge, each with an
// sshd), and the job run on them by tools/canary-ssh, as on a cluster:
// to the serial answer, then with one host's worker killed mid-run and
// snapshots on. Without root (no namespaces) it exits 77, which ctest
// reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <thread>

#include "run_job.h"
#include "serial_reference.h"
#include "status_client.h"

using namespace canary::testing;
using nlohmann::json;

namespace {

const std::string kJob = CANARY_JOB_logistic_regression;
const std::string kLauncher = CANARY_SOURCE_DIR "/tools/canary-ssh";
const std::string kHosts = CANARY_SOURCE_DIR "/tests/multihost/hosts";

// The namespaces, their sshds and the cluster's keys, for one test case.
struct Hosts {
  std::string work, id, net;
  Hosts() {
    int n = getpid() % 250;
    id = std::to_string(n);
    net = "10.213." + id + ".";
    work = "/tmp/canary-multihost-" + std::to_string(getpid());
    JobRun up = finish_job(start_job(kHosts, {"up", work, id, "3"}, false));
    REQUIRE_MESSAGE(up.exit_code == 0, up.err);
    JobRun keys = finish_job(start_job(kJob, {"keygen", work + "/keys"}, false));
    REQUIRE_MESSAGE(keys.exit_code == 0, keys.err);
  }
  ~Hosts() {
    finish_job(start_job(kHosts, {"down", work, id, "3"}, false));
    (void)std::system(("rm -rf " + work).c_str());
  }
  std::string ssh() const {
    std::string command = slurp(work + "/ssh");
    return command.substr(0, command.find('\n'));
  }
  // The launcher with the job and `flags` for the controller.
  JobProcess launch(const std::vector<std::string>& flags, const std::string& job = kJob) const {
    std::vector<std::string> args = {"--ssh", ssh(), "--keys", work + "/keys", work + "/hostfile", job};
    args.insert(args.end(), flags.begin(), flags.end());
    return start_job(kLauncher, args, false);
  }
};

// The job processes still running in any of the namespaces.
std::string leftovers(const Hosts& h) {
  JobRun ps = finish_job(start_job("/bin/sh",
                                   {"-c", "for i in 0 1 2; do ip netns pids canary-mh-" + h.id +
                                              "-$i; done | xargs -r ps -o comm= -p | grep -v sshd || true"},
                                   false));
  return ps.out;
}

}  // namespace

TEST_CASE("a job on three hosts over ssh gives the serial answer, each host logging under its name") {
  Hosts hosts;
  std::string results = hosts.work + "/shared/results.json";
  JobRun run = finish_job(hosts.launch(
      {"--partitions=8", "--iterations=30", "--samples=20000", "--rate=0.5", "--results", results}));
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  json r = json::parse(slurp(results));
  check_close(r["outputs"]["weights"], serial_logistic_regression(8, 30, 20000, 0.5));
  CHECK(r["stats"]["tasks_per_worker"].size() == 2);
  for (int w : {0, 1}) CHECK(r["stats"]["tasks_per_worker"][w].get<int>() > 0);
  std::multiset<std::vector<int>> pinned;  // the hostfile pins the last host's worker
  for (const json& w : r["stats"]["workers"]) pinned.insert(w["cpus"].get<std::vector<int>>());
  CHECK(pinned == std::multiset<std::vector<int>>{{}, {1}});
  CHECK(run.out.rfind("weights = [", 0) == 0);  // the outputs as they are
  CHECK(run.err.find("[" + hosts.net + "1] controller: the job runs on 2 worker(s)") != std::string::npos);
  CHECK(leftovers(hosts).empty());
}

TEST_CASE("a canary::automatic job on three hosts chooses its count from the threads that registered") {
  Hosts hosts;
  std::string results = hosts.work + "/shared/automatic.json";
  const long values = 50000;
  JobRun run = finish_job(
      hosts.launch({"--values=" + std::to_string(values), "--results", results}, CANARY_JOB_automatic));
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  json r = json::parse(slurp(results));
  int chosen = r["stats"]["partitions"];
  // Its scatter sends to the automatic datasets: one partition per thread
  // of the two workers (the pinned one has one, the other its host's).
  std::smatch said;
  REQUIRE(
      std::regex_search(run.err, said, std::regex("canary::automatic partitions: (\\d+) .*, (\\d+) thread")));
  CHECK(std::stoi(said[1]) == chosen);
  CHECK(std::stoi(said[2]) == chosen);
  CHECK(chosen >= 2);
  std::vector<long> want = serial_bucket_sums(values, chosen);
  REQUIRE(r["outputs"]["bucket_sum"].size() == want.size());
  for (int p = 0; p < chosen; ++p) CHECK(r["outputs"]["bucket_sum"][p] == want[p]);
  CHECK(leftovers(hosts).empty());
}

TEST_CASE("killing one host's worker mid-run: the job rolls back and still gives the serial answer") {
  Hosts hosts;
  std::string results = hosts.work + "/shared/results.json";
  const int port = 8213;
  JobProcess launcher =
      hosts.launch({"--partitions=8", "--iterations=3000", "--samples=20000", "--rate=0.5", "--results",
                    results, "--snapshot-dir", hosts.work + "/shared/snapshots", "--snapshot-every=50",
                    "--heartbeat-timeout=2", "--http", "0.0.0.0:" + std::to_string(port)});
  std::string controller = hosts.net + "1";
  json s = StatusClient{controller, port}.await(
      [](const json& s) {
        return s["state"] == "running" && !s["snapshot"].is_null() && s["workers"].size() == 2;
      },
      60);
  // Each worker registered from its own host's address.
  int victim = -1;
  for (const json& w : s["workers"]) {
    std::string endpoint = w["endpoint"];
    CAPTURE(endpoint);
    CHECK((endpoint.rfind("tcp://" + hosts.net + "2:", 0) == 0 ||
           endpoint.rfind("tcp://" + hosts.net + "3:", 0) == 0));
    if (endpoint.rfind("tcp://" + hosts.net + "3:", 0) == 0) victim = w["pid"];
  }
  REQUIRE(victim > 0);
  REQUIRE(kill(victim, SIGKILL) == 0);
  JobRun run = finish_job(launcher);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  json r = json::parse(slurp(results));
  CHECK(r["stats"]["recoveries"] == 1);
  CHECK(r["stats"]["lost_workers"].size() == 1);
  check_close(r["outputs"]["weights"], serial_logistic_regression(8, 3000, 20000, 0.5));
  CHECK(run.err.find("[" + controller + "] controller: worker ") != std::string::npos);
  CHECK(leftovers(hosts).empty());
}

TEST_CASE("stopping the launcher stops the job on every host") {
  Hosts hosts;
  const int port = 8214;
  JobProcess launcher = hosts.launch({"--iterations=1000000", "--http", "0.0.0.0:" + std::to_string(port)});
  StatusClient{hosts.net + "1", port}.await([](const json& s) { return s["state"] == "running"; }, 60);
  CHECK(leftovers(hosts).find("logistic_regres") != std::string::npos);
  kill(launcher.pid, SIGTERM);  // what Ctrl-C does to the foreground launcher
  JobRun run = finish_job(launcher);
  CHECK(run.exit_code == 130);
  CHECK(run.err.find("stopping every host") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(leftovers(hosts).empty());
}

TEST_CASE("the launcher refuses what it cannot run, saying why") {
  Hosts hosts;
  auto launch = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--ssh", hosts.ssh()});
    return finish_job(start_job(kLauncher, args, false));
  };
  JobRun no_keys = launch({hosts.work + "/hostfile", kJob});
  CHECK(no_keys.exit_code == 2);
  CHECK(no_keys.err.find("give --keys DIR") != std::string::npos);
  JobRun no_file = launch({"--insecure", hosts.work + "/nothing", kJob});
  CHECK(no_file.err.find("cannot read the host file") != std::string::npos);
  std::ofstream(hosts.work + "/one") << "canary-mh@" << hosts.net << "1\n";
  JobRun one = launch({"--insecure", hosts.work + "/one", kJob});
  CHECK(one.err.find("it needs the controller's and at least one worker's") != std::string::npos);
  // An address on the hosts' network that no host has.
  std::ofstream(hosts.work + "/gone") << "canary-mh@" << hosts.net << "1\ncanary-mh@" << hosts.net << "99\n";
  JobRun gone = launch({"--insecure", hosts.work + "/gone", kJob});
  CHECK(gone.exit_code == 2);
  CHECK(gone.err.find("cannot copy " + kJob + " to canary-mh@" + hosts.net + "99") != std::string::npos);
  CHECK(leftovers(hosts).empty());
  // What it copied to the host it reached is gone again.
  JobRun copies =
      finish_job(start_job("/bin/sh", {"-c", "ls -d /tmp/canary-logistic_regression.* 2>/dev/null"}, false));
  CHECK(copies.out.empty());
}

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::cout << "multihost: skipped: creating network namespaces needs root\n";
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
