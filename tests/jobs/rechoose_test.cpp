// canary::automatic's second choice (controller/autosize.h,
// rechoose_partitions), made from task times measured while the job runs.
// This test runs alone (RUN_SERIAL): the times it depends on are those of
// this machine's two cores, which another test's processes would share.
#include <doctest/doctest.h>

#include <string>

#include "run_job.h"
#include "serial_reference.h"

using namespace canary::testing;

// Tasks of a few nanoseconds, each costing the scheduler more than itself:
// the first iterations' times predict that fewer partitions do the same
// work sooner, and the job is long enough to pay for going back to the
// start. Every counter must end as the serial loop's, whatever the count.
TEST_CASE(
    "canary::automatic: tasks shorter than their overhead make the job start over with fewer partitions") {
  // Long enough that starting over pays whenever the look lands: at 12M
  // rounds a run on a fast moment finished in 3 s, and a look at 0.5 s no
  // longer paid for itself (about 1 run in 6 kept its 4 partitions, one CI run included).
  const int rounds = 24000000;
  long want = 0;
  for (int r = 0; r < rounds; ++r) want = (want + 3) ^ 5;
  // Without the balancer: with another process on one core it moved a group
  // early in some runs, and the task times the decision reads then mix the
  // move's catching up into the first iterations.
  JobRun r = run_ok(CANARY_JOB_small_tasks,
                    {"--workers=2", "--threads=1", "--no-balance", "--rounds=" + std::to_string(rounds)});
  CAPTURE(r.err);
  const nlohmann::json& stats = r.results["stats"];
  int chosen = stats["partitions"];
  REQUIRE(stats.contains("partitions_at_first"));
  CHECK(stats["partitions_at_first"] == 4);
  CHECK(chosen < 4);
  CHECK(stats["dataset_partitions"]["counters"] == chosen);
  CHECK(r.err.find("canary::automatic partitions: " + std::to_string(chosen) + " (the first tasks' times") !=
        std::string::npos);
  CHECK(r.err.find("starting over") != std::string::npos);
  const nlohmann::json& counters = r.results["outputs"]["counter"];
  REQUIRE(counters.size() == static_cast<std::size_t>(chosen));
  for (const nlohmann::json& c : counters) CHECK(c.get<long>() == want);
}
