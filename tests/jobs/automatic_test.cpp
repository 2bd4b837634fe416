// canary::automatic: the runtime chooses one count for every dataset
// declared so, says which, records it, and repeats a pinned one; the answers
// are checked against a serial loop for whatever count was chosen.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "run_job.h"
#include "serial_reference.h"

using namespace canary::testing;

namespace {

// Runs the job and checks its answers for the count it reports choosing.
int checked_count(const std::vector<std::string>& args) {
  const long values = 50000;
  std::vector<std::string> all = args;
  all.push_back("--values=" + std::to_string(values));
  JobRun r = run_ok(CANARY_JOB_automatic, all);
  const nlohmann::json& stats = r.results["stats"];
  int chosen = stats["partitions"];
  CAPTURE(r.err);
  CHECK(stats["dataset_partitions"]["values"] == chosen);
  CHECK(stats["dataset_partitions"]["buckets"] == chosen);
  CHECK(stats["dataset_partitions"]["total"] == 1);
  CHECK(r.err.find("canary::automatic partitions: " + std::to_string(chosen)) != std::string::npos);
  const nlohmann::json& outputs = r.results["outputs"];
  std::vector<long> want = serial_bucket_sums(values, chosen);
  REQUIRE(outputs["bucket_sum"].size() == want.size());
  for (int p = 0; p < chosen; ++p) {
    CHECK(outputs["bucket_sum"][p] == want[p]);
    CHECK(outputs["partitions_seen"][p] == chosen);
  }
  CHECK(outputs["values_seen"] == values);
  return chosen;
}

}  // namespace

// The job's scatter sends to an automatic dataset: one partition per thread.
TEST_CASE("canary::automatic: one partition per compute thread for this job, whatever runs it") {
  CHECK(checked_count({"--in-process", "--threads=2"}) == 2);
  CHECK(checked_count({"--in-process", "--workers=3", "--threads=2"}) == 6);
  CHECK(checked_count({"--workers=2", "--threads=1"}) == 2);
  CHECK(checked_count({"--workers=3", "--threads=1", "--chaos-migrate-ms=2"}) == 3);
}

TEST_CASE("canary::automatic: a hand-started cluster chooses from the threads its workers bring") {
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  JobProcess controller =
      start_job(CANARY_JOB_automatic, {"controller", "--listen", endpoint, "--expect=2", "--values=5000"});
  JobProcess one =
      start_job(CANARY_JOB_automatic, {"worker", "--controller", endpoint, "--threads=1"}, false);
  JobProcess two =
      start_job(CANARY_JOB_automatic, {"worker", "--controller", endpoint, "--threads=2"}, false);
  JobRun done = finish_job(controller);
  CHECK(finish_job(one).exit_code == 0);
  CHECK(finish_job(two).exit_code == 0);
  REQUIRE(done.exit_code == 0);
  CHECK(done.results["stats"]["partitions"] == 3);
  CHECK(done.results["outputs"]["bucket_sum"].size() == 3);
}

TEST_CASE("--partitions-for-automatic pins the count, so a run repeats bit for bit") {
  CHECK(checked_count({"--in-process", "--threads=2", "--partitions-for-automatic=5"}) == 5);
  CHECK(checked_count({"--workers=2", "--threads=1", "--partitions-for-automatic=3"}) == 3);

  JobRun zero = run_job(CANARY_JOB_automatic, {"--in-process", "--partitions-for-automatic=0"});
  CHECK(zero.exit_code == 2);
  CHECK(zero.err.find("--partitions-for-automatic: a partition count is from 1 to") != std::string::npos);
  JobRun fixed = run_job(CANARY_JOB_logistic_regression, {"--in-process", "--partitions-for-automatic=4"});
  CHECK(fixed.exit_code == 2);
  CHECK(fixed.err.find("declares no dataset with canary::automatic partitions") != std::string::npos);
  JobRun worker = run_job(CANARY_JOB_automatic, {"worker", "--partitions-for-automatic=4"});
  CHECK(worker.exit_code == 2);
}
