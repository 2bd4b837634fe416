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
