// The choice of canary::automatic's count, from what is known before a job
// starts.
#include "controller/autosize.h"

#include <doctest/doctest.h>

using namespace canary::rt;

TEST_CASE("automatic partitions: two per compute thread when nothing else is known") {
  CHECK(choose_partitions({1, 0}).partitions == 2);
  CHECK(choose_partitions({2, 0}).partitions == 4);
  CHECK(choose_partitions({64, 0}).partitions == 128);
  CHECK(choose_partitions({0, 0}).partitions == 2);  // no thread reported: as one
  CHECK(choose_partitions({2, 0}).why == "2 per compute thread, 2 thread(s)");
}

TEST_CASE("automatic partitions: one per compute thread when a scatter sends to them") {
  CHECK(choose_partitions({2, 0, true}).partitions == 2);
  CHECK(choose_partitions({6, 0, true}).partitions == 6);
  CHECK(choose_partitions({6, 0, true}).why.find("a scatter sends chunks") != std::string::npos);
}

TEST_CASE("automatic partitions: a small input gives each partition at least a MiB") {
  const std::uint64_t mib = std::uint64_t{1} << 20;
  CHECK(choose_partitions({8, 100}).partitions == 1);
  CHECK(choose_partitions({8, 3 * mib + 1}).partitions == 3);
  CHECK(choose_partitions({8, 3 * mib}).why.find("at least 1 MiB") != std::string::npos);
  CHECK(choose_partitions({8, 1000 * mib}).partitions == 16);  // large enough: the threads decide
}

TEST_CASE("automatic partitions: never beyond what a dataset may have") {
  CHECK(choose_partitions({1 << 20, 0}).partitions == kMaxPartitions);
}

TEST_CASE("longest first: the busiest thread's time") {
  CHECK(longest_first_makespan({2, 1, 1, 1}, 2) == 3);
  CHECK(longest_first_makespan({1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, 2) == 2.5);
  CHECK(longest_first_makespan({1, 1, 1}, 4) == 1);
  CHECK(longest_first_makespan({}, 2) == 0);
}

namespace {

// Two threads, 4 partitions, 400 tasks so far at 1 us of overhead each, 1 s
// into a job with 20 s to go at this count.
AutosizeMeasure measured(std::vector<double> partition_cpu_s) {
  AutosizeMeasure m;
  m.threads = 2;
  m.partition_cpu_s = std::move(partition_cpu_s);
  m.tasks = 400;
  m.overhead_s_per_task = 1e-6;
  m.elapsed_s = 1;
  m.remaining_s = 20;
  m.window_s = longest_first_makespan(m.partition_cpu_s, m.threads);  // the threads were busy throughout
  return m;
}

}  // namespace

TEST_CASE("automatic partitions chosen again: a straggling partition is split when that pays") {
  // Partition 0 takes twice the others: the best 2 threads do with 4 is 3
  // units against 2.5 with 8 (or 16) partitions.
  std::optional<AutosizeChoice> finer = rechoose_partitions(measured({0.4, 0.2, 0.2, 0.2}));
  REQUIRE(finer);
  CHECK(finer->partitions == 8);
  CHECK(finer->why.find("with 8 than with 4") != std::string::npos);

  // The same, but the job is nearly over: starting over costs more than it saves.
  AutosizeMeasure late = measured({0.4, 0.2, 0.2, 0.2});
  late.remaining_s = 1;
  CHECK_FALSE(rechoose_partitions(late));

  // A scatter to automatic datasets: never more partitions.
  AutosizeMeasure exchanging = measured({0.4, 0.2, 0.2, 0.2});
  exchanging.exchanges = true;
  CHECK_FALSE(rechoose_partitions(exchanging));
}

TEST_CASE("automatic partitions chosen again: even tasks keep the count") {
  CHECK_FALSE(rechoose_partitions(measured({0.25, 0.25, 0.25, 0.25})));
  CHECK_FALSE(rechoose_partitions(measured({0.27, 0.25, 0.23, 0.25})));  // noise is no straggler
  CHECK_FALSE(rechoose_partitions(AutosizeMeasure{}));                   // nothing measured
}

TEST_CASE("automatic partitions chosen again: tasks that cost little against the overhead merge") {
  // 100 us of task time in 400 tasks, with 1 us of overhead each: half the
  // partitions save 200 us of 250.
  std::optional<AutosizeChoice> coarser = rechoose_partitions(measured({25e-6, 25e-6, 25e-6, 25e-6}));
  REQUIRE(coarser);
  CHECK(coarser->partitions == 2);
}

TEST_CASE("automatic partitions chosen again: what a count saves is weighed against the time measured") {
  // The measured times say 8 partitions could take 17% less, but they were
  // measured over twice as long: the loop waits for more than it computes.
  AutosizeMeasure waiting = measured({0.4, 0.2, 0.2, 0.2});
  waiting.window_s = 1.2;
  CHECK_FALSE(rechoose_partitions(waiting));
  waiting.window_s = 0.65;
  CHECK(rechoose_partitions(waiting));
}
