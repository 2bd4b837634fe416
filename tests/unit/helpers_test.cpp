// The helpers of DESIGN.md section 4.2: block arithmetic that covers every
// item once, and a partition hash fixed for every machine and run.
#include <canary/dsl.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <vector>

TEST_CASE("range_of cuts every total into contiguous blocks, and owner_of finds an item's block") {
  for (long total : {0L, 1L, 7L, 10L, 1000L, 999983L})
    for (int parts : {1, 2, 3, 7, 16, 100}) {
      CAPTURE(total);
      CAPTURE(parts);
      long next = 0;
      for (int i = 0; i < parts; ++i) {
        auto [begin, end] = canary::range_of(i, total, parts);
        CHECK(begin == next);
        CHECK(begin == total * i / parts);
        CHECK(end >= begin);
        for (long item = begin; item < end; item += std::max(1L, (end - begin) / 5))
          CHECK(canary::owner_of(item, total, parts) == i);
        if (end > begin) CHECK(canary::owner_of(end - 1, total, parts) == i);
        next = end;
      }
      CHECK(next == total);
    }
}

TEST_CASE("range_of and owner_of take integers of any type, and totals whose products overflow 64 bits") {
  long long total = 4'000'000'000'000'000'000LL;
  auto [begin, end] = canary::range_of(short{6}, total, 7u);
  CHECK(begin == static_cast<long>(static_cast<__int128>(total) * 6 / 7));
  CHECK(end == total);
  CHECK(canary::owner_of(total - 1, total, std::uint8_t{7}) == 6);
  CHECK_THROWS_AS(canary::range_of(3, 10, 3), std::out_of_range);
  CHECK_THROWS_AS(canary::owner_of(10, 10, 3), std::out_of_range);
  CHECK_THROWS_AS(canary::range_of(0, 10, 0), std::invalid_argument);
}

TEST_CASE("hash_partition is a fixed function: the same values on every machine, compiler and run") {
  // Pinned, as a few lines of Python compute them from the definition: a
  // change to the hash would send keys elsewhere than runs made before it.
  CHECK(canary::hash_partition(0, 1000) == 535);
  CHECK(canary::hash_partition(42L, 1000) == 413);
  CHECK(canary::hash_partition(-1, 1000) == 936);  // as the unsigned 2^64 - 1
  CHECK(canary::hash_partition(std::string("canary"), 1000) == 246);
  CHECK(canary::hash_partition("canary", 1000) == 246);
  CHECK(canary::hash_partition(std::pair<int, double>{1, 2.5}, 1000) == 515);  // its 12 bytes, no padding
  CHECK(canary::hash_partition(42, 1000) == canary::hash_partition(42L, 1000));
}

TEST_CASE("hash_partition spreads keys evenly") {
  constexpr int kParts = 16, kKeys = 160000;
  std::vector<int> ints(kParts), strings(kParts);
  for (int k = 0; k < kKeys; ++k) {
    ++ints[canary::hash_partition(k, kParts)];
    ++strings[canary::hash_partition("key-" + std::to_string(k), kParts)];
  }
  for (int p = 0; p < kParts; ++p) {
    CHECK(std::abs(ints[p] - kKeys / kParts) < kKeys / kParts / 20);
    CHECK(std::abs(strings[p] - kKeys / kParts) < kKeys / kParts / 20);
  }
}
