// Jobs as a controller and worker processes talking over real loopback
// sockets: the embedded default, and hand-started clusters.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "run_job.h"
#include "serial_reference.h"

using namespace canary::testing;

namespace {

std::string last_line(const std::string& text) {
  std::string t = text.substr(0, text.find_last_not_of('\n') + 1);
  return t.substr(t.find_last_of('\n') + 1);
}

}  // namespace

TEST_CASE("every example on 1, 2 and 4 worker processes equals the serial loop") {
  for (int workers : {1, 2, 4}) {
    CAPTURE(workers);
    std::string w = "--workers=" + std::to_string(workers);
    JobRun lr = run_ok(CANARY_JOB_logistic_regression, {w, "--threads=1", "--partitions=8", "--iterations=3",
                                                        "--samples=4000", "--rate=0.5"});
    check_close(lr.results["outputs"]["weights"], serial_logistic_regression(8, 3, 4000, 0.5));
    CHECK(lr.results["stats"]["tasks_per_worker"].size() == static_cast<std::size_t>(workers));

    JobRun km =
        run_ok(CANARY_JOB_kmeans, {w, "--threads=1", "--partitions=6", "--points=3000", "--clusters=4"});
    KmeansResult want = serial_kmeans(6, 4, 3000, 50, 1e-6);
    check_close(km.results["outputs"]["centroids"], want.centroids);
    CHECK(km.results["outputs"]["iterations"] == want.iterations);

    JobRun pr = run_ok(CANARY_JOB_pagerank,
                       {w, "--threads=1", "--partitions=6", "--vertices=2000", "--iterations=4"});
    std::vector<std::vector<double>> ranks = serial_pagerank(6, 4, 2000, 8, 0.85);
    REQUIRE(pr.results["outputs"]["ranks"].size() == ranks.size());
    for (std::size_t p = 0; p < ranks.size(); ++p) check_close(pr.results["outputs"]["ranks"][p], ranks[p]);
  }
}

TEST_CASE("--in-process --workers N runs N workers as threads, routing as the network would") {
  for (int workers : {2, 3}) {
    CAPTURE(workers);
    std::string w = "--workers=" + std::to_string(workers);
    JobRun pr = run_ok(CANARY_JOB_pagerank, {"--in-process", w, "--threads=1", "--partitions=7",
                                             "--vertices=2000", "--iterations=4"});
    std::vector<std::vector<double>> ranks = serial_pagerank(7, 4, 2000, 8, 0.85);
    for (std::size_t p = 0; p < ranks.size(); ++p) check_close(pr.results["outputs"]["ranks"][p], ranks[p]);
    CHECK(pr.results["stats"]["tasks_per_worker"].size() == static_cast<std::size_t>(workers));

    JobRun km =
        run_ok(CANARY_JOB_kmeans, {"--in-process", w, "--threads=1", "--partitions=5", "--points=3000"});
    KmeansResult want = serial_kmeans(5, 5, 3000, 50, 1e-6);
    check_close(km.results["outputs"]["centroids"], want.centroids);
  }
  JobRun failed = run_job(CANARY_JOB_failing_task, {"--in-process", "--workers=3", "--threads=1"});
  CHECK(failed.exit_code == 1);
  CHECK(failed.err == "failing_task: error: stage 'work', partition 2: partition 2 is bad\n");
}

TEST_CASE("every worker runs tasks, and together they run them all once") {
  JobRun r = run_ok(CANARY_JOB_logistic_regression,
                    {"--workers=3", "--threads=1", "--partitions=9", "--iterations=2", "--samples=900"});
  const nlohmann::json& stats = r.results["stats"];
  long sum = 0;
  for (const auto& n : stats["tasks_per_worker"]) {
    CHECK(n.get<long>() > 0);
    sum += n.get<long>();
  }
  CHECK(sum == stats["tasks"].get<long>());
  // generate 9, init 1, per iteration: share 1+9, gradient 9, sum 9+1, step 1; report 1
  CHECK(sum == 9 + 1 + 2 * (10 + 9 + 10 + 1) + 1);
}

TEST_CASE("a hand-started cluster: workers started before and after the controller both join") {
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  std::vector<std::string> worker = {"worker", "--controller", endpoint, "--threads=1", "--timeout=20"};
  JobProcess early = start_job(CANARY_JOB_pagerank, worker, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  JobProcess controller =
      start_job(CANARY_JOB_pagerank, {"controller", "--listen", endpoint, "--expect=3", "--partitions=5",
                                      "--vertices=1500", "--iterations=3", "--timeout=20"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  JobProcess late1 = start_job(CANARY_JOB_pagerank, worker, false);
  JobProcess late2 = start_job(CANARY_JOB_pagerank, worker, false);
  JobRun c = finish_job(controller);
  for (const JobProcess& w : {early, late1, late2}) {
    JobRun r = finish_job(w);
    INFO("worker stderr: " << r.err);
    CHECK(r.exit_code == 0);
  }
  INFO("controller stderr: " << c.err);
  REQUIRE(c.exit_code == 0);
  std::vector<std::vector<double>> ranks = serial_pagerank(5, 3, 1500, 8, 0.85);
  for (std::size_t p = 0; p < ranks.size(); ++p) check_close(c.results["outputs"]["ranks"][p], ranks[p]);
  CHECK(c.results["stats"]["tasks_per_worker"].size() == 3);
}

TEST_CASE("a worker with a stale map misroutes data, the others forward it, and the answers stay right") {
  // Worker 1 starts with a map that places every other worker's partitions
  // wrongly (at an older version), and gets the real one only after 2 s.
  JobRun pr = run_ok(CANARY_JOB_pagerank, {"--workers=3", "--threads=1", "--test-stale-map=1:2000",
                                           "--partitions=9", "--vertices=3000", "--iterations=6"});
  std::vector<std::vector<double>> ranks = serial_pagerank(9, 6, 3000, 8, 0.85);
  for (std::size_t p = 0; p < ranks.size(); ++p) check_close(pr.results["outputs"]["ranks"][p], ranks[p]);
  CHECK(pr.results["stats"]["forwarded"].get<long>() > 0);

  // Reductions and broadcasts are routed by the same map.
  JobRun lr = run_ok(CANARY_JOB_logistic_regression, {"--workers=3", "--threads=1", "--test-stale-map=0:2000",
                                                      "--partitions=9", "--iterations=3", "--samples=3000"});
  check_close(lr.results["outputs"]["weights"], serial_logistic_regression(9, 3, 3000, 0.1));
  CHECK(lr.results["stats"]["forwarded"].get<long>() > 0);

  JobRun on_time = run_ok(CANARY_JOB_pagerank, {"--workers=3", "--threads=1", "--no-balance",
                                                "--partitions=9", "--vertices=3000", "--iterations=6"});
  CHECK(on_time.results["stats"]["forwarded"] == 0);
}

TEST_CASE("a straggler (worker --slowdown) slows the job, not its answers") {
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  JobProcess controller = start_job(CANARY_JOB_kmeans, {"controller", "--listen", endpoint, "--expect=2",
                                                        "--partitions=4", "--points=20000"});
  JobProcess slow = start_job(CANARY_JOB_kmeans, {"worker", "--controller", endpoint, "--slowdown=3"}, false);
  JobProcess fast = start_job(CANARY_JOB_kmeans, {"worker", "--controller", endpoint}, false);
  JobRun c = finish_job(controller);
  CHECK(finish_job(slow).exit_code == 0);
  CHECK(finish_job(fast).exit_code == 0);
  INFO("controller: " << c.err);
  REQUIRE(c.exit_code == 0);
  KmeansResult want = serial_kmeans(4, 5, 20000, 50, 1e-6);
  check_close(c.results["outputs"]["centroids"], want.centroids);
  CHECK(c.results["outputs"]["iterations"] == want.iterations);
}

TEST_CASE("nobody hangs silently") {
  SUBCASE("a worker that cannot reach its controller gives up and says so") {
    std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
    JobRun r =
        finish_job(start_job(CANARY_JOB_kmeans, {"worker", "--controller", endpoint, "--timeout=1"}, false));
    CHECK(r.exit_code == 1);
    CHECK(
        last_line(r.err) ==
        "worker: error: no answer from the controller at " + endpoint +
            " within 1 s; is it running, is the address right, and, if it runs with --keys, does this worker "
            "have the cluster's keys? (--timeout to wait longer)");
  }
  SUBCASE("a controller still missing workers gives up and says so") {
    std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
    JobRun r = run_job(CANARY_JOB_kmeans, {"controller", "--listen", endpoint, "--expect=2", "--timeout=1"});
    CHECK(r.exit_code == 1);
    CHECK(last_line(r.err) ==
          "kmeans: error: 0 of 2 workers registered within 1 s; start the others with `kmeans worker "
          "--controller ENDPOINT`, or give --timeout");
  }
  SUBCASE("a worker of another job is refused") {
    std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
    JobProcess controller =
        start_job(CANARY_JOB_kmeans, {"controller", "--listen", endpoint, "--expect=1", "--timeout=2"});
    JobRun stranger = finish_job(
        start_job(CANARY_JOB_pagerank, {"worker", "--controller", endpoint, "--timeout=5"}, false));
    CHECK(stranger.exit_code == 1);
    CHECK(stranger.err.find("this controller runs job 'kmeans', not 'pagerank'") != std::string::npos);
    CHECK(finish_job(controller).exit_code == 1);
  }
  SUBCASE("a failed task ends the distributed job with a clear line") {
    JobRun r = run_job(CANARY_JOB_failing_task, {"--workers=2"});
    CHECK(r.exit_code == 1);
    CHECK(last_line(r.err).find("failing_task: error: worker ") == 0);
    CHECK(last_line(r.err).find("stage 'work', partition 2: partition 2 is bad") != std::string::npos);
  }
  SUBCASE("job parameters go to the controller, not to workers") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"worker", "--controller", "tcp://127.0.0.1:1", "--clusters=3"});
    CHECK(r.exit_code == 2);
    CHECK(r.err ==
          "kmeans: error: job parameters and --results go to the controller; workers receive them from it\n");
  }
}

TEST_CASE("under --dispatch=central (the baseline) every example still equals the serial loop") {
  std::vector<std::string> central = {"--workers=2", "--threads=2", "--dispatch=central"};
  auto with = [&](std::initializer_list<std::string> more) {
    std::vector<std::string> args = central;
    args.insert(args.end(), more);
    return args;
  };
  JobRun lr =
      run_ok(CANARY_JOB_logistic_regression, with({"--partitions=5", "--iterations=4", "--samples=3000"}));
  check_close(lr.results["outputs"]["weights"], serial_logistic_regression(5, 4, 3000, 0.1));
  CHECK(lr.results["stats"]["dispatch"] == "central");
  // Every task waited for the controller: far more CPU per task than when
  // the workers schedule their own.
  CHECK(lr.results["stats"]["overhead_ns_per_task"].get<double>() > 1000);

  JobRun km = run_ok(CANARY_JOB_kmeans, with({"--partitions=4", "--points=3000"}));
  KmeansResult want = serial_kmeans(4, 5, 3000, 50, 1e-6);
  check_close(km.results["outputs"]["centroids"], want.centroids);

  JobRun pr = run_ok(CANARY_JOB_pagerank, with({"--partitions=5", "--iterations=3", "--vertices=2000"}));
  std::vector<std::vector<double>> ranks = serial_pagerank(5, 3, 2000, 8, 0.85);
  for (std::size_t p = 0; p < ranks.size(); ++p) check_close(pr.results["outputs"]["ranks"][p], ranks[p]);

  JobRun bad = run_job(CANARY_JOB_kmeans, {"--dispatch=central", "--snapshot-dir=/tmp/x"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err ==
        "kmeans: error: --dispatch=central does not migrate or snapshot: drop --snapshot-dir and "
        "--chaos-migrate-ms\n");
}
