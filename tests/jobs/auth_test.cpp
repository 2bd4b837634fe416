// Authenticated clusters (issue 8): with --keys, every connection is ZeroMQ
// CURVE, and a peer without the cluster's keys is refused and logged while
// the job runs on with the workers that hold them.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "hostile.h"
#include "run_job.h"
#include "serial_reference.h"

using namespace canary::testing;
namespace fs = std::filesystem;

namespace {

std::string keygen(const std::string& dir) {
  fs::remove_all(dir);
  JobRun r = finish_job(start_job(CANARY_JOB_kmeans, {"keygen", dir}, false));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return dir;
}

}  // namespace

TEST_CASE(
    "with --keys, workers without the cluster's key are refused while garbage flies, and keyed ones "
    "run the job") {
  std::string base = "/tmp/canary-keys-" + std::to_string(getpid());
  std::string keys = keygen(base + "-cluster"), stranger = keygen(base + "-stranger");
  int port = free_port();
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  JobProcess controller =
      start_job(CANARY_JOB_kmeans, {"controller", "--listen", endpoint, "--expect=2", "--keys", keys,
                                    "--partitions=6", "--points=20000", "--timeout=20"});
  std::vector<std::string> worker = {"worker", "--controller", endpoint, "--threads=1", "--timeout=4"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = worker;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  JobProcess keyless = start_job(CANARY_JOB_kmeans, worker, false);
  JobProcess wrong = start_job(CANARY_JOB_kmeans, with({"--keys", stranger}), false);
  std::atomic<bool> throwing{true};
  std::thread garbage([&] {
    std::mt19937_64 rng(11);
    while (throwing) {
      raw_tcp_garbage(port, rng);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the strangers have knocked by now
  JobProcess good1 = start_job(CANARY_JOB_kmeans, with({"--keys", keys}), false);
  JobProcess good2 = start_job(CANARY_JOB_kmeans, with({"--keys", keys}), false);
  JobRun c = finish_job(controller);
  throwing = false;
  garbage.join();
  INFO("controller: " << c.err);
  REQUIRE(c.exit_code == 0);
  KmeansResult want = serial_kmeans(6, 5, 20000, 50, 1e-6);
  check_close(c.results["outputs"]["centroids"], want.centroids);
  CHECK(c.results["stats"]["tasks_per_worker"].size() == 2);  // no stranger among them
  CHECK(c.err.find("controller: refused a connection") != std::string::npos);
  for (const JobProcess& w : {good1, good2}) CHECK(finish_job(w).exit_code == 0);
  for (const JobProcess& w : {keyless, wrong}) {
    JobRun r = finish_job(w);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("if it runs with --keys, does this worker have the cluster's keys?") !=
          std::string::npos);
  }
  fs::remove_all(keys);
  fs::remove_all(stranger);
}

TEST_CASE("keygen writes the controller's and the workers' keys, the secret halves private") {
  std::string dir = keygen("/tmp/canary-keygen-" + std::to_string(getpid()));
  for (const char* name : {"controller.key", "worker.key", "controller.pub", "worker.pub"}) {
    CAPTURE(name);
    REQUIRE(fs::exists(dir + "/" + name));
    bool secret = std::string(name).find(".key") != std::string::npos;
    fs::perms others = fs::perms::group_read | fs::perms::others_read;
    CHECK(((fs::status(dir + "/" + name).permissions() & others) == fs::perms::none) == secret);
  }
  JobRun missing = run_job(CANARY_JOB_kmeans, {"controller", "--listen", "tcp://127.0.0.1:1", "--expect=1",
                                               "--keys", "/tmp/canary-no-such-keys"});
  CHECK(missing.exit_code == 2);  // refused before anything starts
  CHECK(missing.err.find("cannot read /tmp/canary-no-such-keys/controller.key; make the keys with") !=
        std::string::npos);
  JobRun usage = finish_job(start_job(CANARY_JOB_kmeans, {"keygen"}, false));
  CHECK(usage.exit_code == 2);
  fs::remove_all(dir);
}

TEST_CASE("without --keys nothing listens beyond loopback unless --insecure says so") {
  int port = free_port();
  JobRun refused = run_job(
      CANARY_JOB_kmeans,
      {"controller", "--listen", "tcp://0.0.0.0:" + std::to_string(port), "--expect=1", "--timeout=1"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("refusing to listen on tcp://0.0.0.0:" + std::to_string(port) + " without --keys") !=
        std::string::npos);
  JobRun insecure =
      run_job(CANARY_JOB_kmeans, {"controller", "--listen", "tcp://0.0.0.0:" + std::to_string(port),
                                  "--expect=1", "--timeout=1", "--insecure"});
  CHECK(insecure.exit_code == 1);
  CHECK(insecure.err.find("0 of 1 workers registered within 1 s") != std::string::npos);
  JobRun worker = finish_job(start_job(CANARY_JOB_kmeans,
                                       {"worker", "--controller", "tcp://127.0.0.1:1", "--listen",
                                        "tcp://0.0.0.0:" + std::to_string(port), "--timeout=1"},
                                       false));
  CHECK(worker.exit_code == 2);
  CHECK(worker.err.find("refusing to take data on tcp://0.0.0.0:") != std::string::npos);
}
