// The shard's queues: first in, first out across the ring's wrap and growth,
// compared with std::deque doing the same operations.
#include "scheduler/fifo.h"

#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <random>
#include <vector>

namespace {

std::vector<int> contents(const canary::rt::Fifo<int>& q) {
  std::vector<int> out;
  q.for_each([&](int x) { out.push_back(x); });
  return out;
}

}  // namespace

TEST_CASE("Fifo keeps the order of std::deque through random pushes and pops") {
  canary::rt::Fifo<int> q;
  std::deque<int> reference;
  std::mt19937 random(7);
  for (int step = 0; step < 20000; ++step) {
    // Long runs of pushes and of pops, so the ring both wraps and grows.
    bool pushing_run = (step / 500) % 2 == 0;
    bool push = reference.empty() || (pushing_run ? random() % 4 != 0 : random() % 4 == 0);
    if (push) {
      q.push_back(step);
      reference.push_back(step);
    } else {
      REQUIRE(q.front() == reference.front());
      q.pop_front();
      reference.pop_front();
    }
    REQUIRE(q.size() == reference.size());
    if (!reference.empty()) CHECK(q[reference.size() / 2] == reference[reference.size() / 2]);
  }
  CHECK(contents(q) == std::vector<int>(reference.begin(), reference.end()));
}

TEST_CASE("Fifo::keep_if keeps the chosen items in order across the wrap") {
  canary::rt::Fifo<int> q;
  for (int i = 0; i < 12; ++i) q.push_back(i);
  for (int i = 0; i < 10; ++i) q.pop_front();
  for (int i = 12; i < 24; ++i) q.push_back(i);  // wraps in the ring of 16
  q.keep_if([](int x) { return x % 3 != 0; });
  CHECK(contents(q) == std::vector<int>{10, 11, 13, 14, 16, 17, 19, 20, 22, 23});
  q.push_back(99);
  CHECK(q.size() == 11);
  CHECK(q[10] == 99);
}

TEST_CASE("Fifo releases what an item owns when it is taken or dropped") {
  canary::rt::Fifo<std::shared_ptr<int>> q;
  auto first = std::make_shared<int>(1), second = std::make_shared<int>(2);
  q.push_back(first);
  q.push_back(second);
  q.pop_front();
  CHECK(first.use_count() == 1);
  q.keep_if([](const std::shared_ptr<int>&) { return false; });
  CHECK(second.use_count() == 1);
  CHECK(q.empty());
}
