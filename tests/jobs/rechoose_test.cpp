// canary::automatic's second choice (controller/autosize.h,
// rechoose_partitions), made from task times measured while the job runs.
// These tests run alone (RUN_SERIAL): the times they depend on are those of
// this machine's two cores, which another test's processes would share.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "run_job.h"
#include "serial_reference.h"

using namespace canary::testing;

// The second choice (controller/autosize.h, rechoose_partitions): the first
// iterations show one partition of the four taking 1.8 times the others',
// so eight are predicted 14% faster, and the job is long enough for that to
// pay for going back to the start. A run whose measures say otherwise (a
// slow spell of the machine) is repeated, up to three in all; every run's
// answer must match the serial loop's.
TEST_CASE(
    "canary::automatic: a straggling partition seen in the first iterations makes the job start over finer") {
  const long values = 100000;
  const int rounds = 3000, work = 40;
  std::uint64_t want = serial_straggler_total(values, rounds, work, true);
  bool started_over = false;
  for (int attempt = 0; attempt < 3 && !started_over; ++attempt) {
    JobRun r =
        run_ok(CANARY_JOB_straggler, {"--workers=2", "--threads=1", "--values=" + std::to_string(values),
                                      "--rounds=" + std::to_string(rounds)});
    CAPTURE(r.err);
    const nlohmann::json& stats = r.results["stats"];
    int chosen = stats["partitions"];
    CHECK(r.results["outputs"]["total"].get<std::uint64_t>() == want);
    CHECK(r.results["outputs"]["partitions_seen"].size() == static_cast<std::size_t>(chosen));
    started_over = stats.contains("partitions_at_first");
    if (!started_over) {
      CHECK(chosen == 4);
      continue;
    }
    CHECK(stats["partitions_at_first"] == 4);
    CHECK((chosen == 8 || chosen == 16));
    CHECK(r.err.find("canary::automatic partitions: " + std::to_string(chosen) +
                     " (the first tasks' times") != std::string::npos);
    CHECK(r.err.find("starting over") != std::string::npos);
  }
  CHECK(started_over);
}

TEST_CASE("canary::automatic: even partitions keep the first count") {
  const long values = 100000;
  const int rounds = 1500, work = 40;
  JobRun r = run_ok(CANARY_JOB_straggler,
                    {"--workers=2", "--threads=1", "--heavy=0", "--values=" + std::to_string(values),
                     "--rounds=" + std::to_string(rounds)});
  CAPTURE(r.err);
  CHECK(r.results["stats"]["partitions"] == 4);
  CHECK_FALSE(r.results["stats"].contains("partitions_at_first"));
  CHECK(r.results["outputs"]["total"].get<std::uint64_t>() ==
        serial_straggler_total(values, rounds, work, false));
}
