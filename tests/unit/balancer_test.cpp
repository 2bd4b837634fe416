// The controller's balancing policy, fed with load reports as the workers
// would send them: cumulative tasks and CPU seconds per partition group.
#include "controller/balancer.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace canary::rt;

namespace {

// Feeds one window of `seconds` in which each worker ran `tasks` tasks on
// every group it holds, each task of group i taking `per_task[w]` CPU
// seconds on worker w, times `weight[i]` if given.
struct Cluster {
  explicit Cluster(std::vector<std::vector<int>> held_by_worker, std::vector<double> per_task,
                   std::vector<double> weights = {})
      : held(std::move(held_by_worker)),
        cost(std::move(per_task)),
        weight(std::move(weights)),
        totals(held.size()),
        balancer(threads()) {
    window(0, 0);  // the first reports start the windows
  }
  std::vector<int> threads() const { return std::vector<int>(held.size(), 1); }

  std::optional<Move> window(double seconds, int tasks) {
    now += seconds;
    for (std::size_t w = 0; w < held.size(); ++w) {
      std::map<GroupPartition, Load> report;
      for (int i : held[w]) {
        Load& t = totals[w][i];
        t.tasks += tasks;
        t.cpu_s += tasks * cost[w] * (weight.empty() ? 1 : weight[i]);
        report[{GroupId(0), PartitionIndex(i)}] = t;
      }
      balancer.report(WorkerId(static_cast<int>(w)), now, report);
    }
    return balancer.decide();
  }
  // Carries a move out, as the controller would; returns the next move of
  // the same decision, if any.
  std::optional<Move> apply(const Move& m) {
    auto& from = held[m.from.value()];
    from.erase(std::find(from.begin(), from.end(), m.which.partition.value()));
    held[m.to.value()].push_back(m.which.partition.value());
    totals[m.to.value()][m.which.partition.value()] = {};
    balancer.moved();
    return window(0.001, 0);
  }
  double load(int w) const {
    double sum = 0;
    for (int i : held[w]) sum += cost[w] * (weight.empty() ? 1 : weight[i]);
    return sum;
  }

  std::vector<std::vector<int>> held;
  std::vector<double> cost, weight;
  std::vector<std::map<int, Load>> totals;
  Balancer balancer;
  double now = 0;
};

}  // namespace

TEST_CASE("a straggler's groups move to the idle worker, until the two keep pace, and never back") {
  // Worker 1 is 3 times slower. In a window of 1 s each partition runs 10
  // tasks: worker 1 is busy (4 x 10 x 0.025 s), worker 0 a third as much.
  Cluster c({{0, 1, 2, 3}, {4, 5, 6, 7}}, {0.025 / 3, 0.025});
  std::vector<Move> moves;
  for (int round = 0; round < 10; ++round) {
    // Every worker keeps the straggler's pace: the busier sets it.
    double slowest = 0;
    for (std::size_t w = 0; w < 2; ++w) slowest = std::max(slowest, c.held[w].size() * c.cost[w]);
    int tasks = static_cast<int>(10 * 0.1 / slowest);
    for (auto move = c.window(1, tasks); move; move = c.apply(*move)) {
      CHECK(move->from == WorkerId(1));
      CHECK(move->to == WorkerId(0));
      moves.push_back(*move);
    }
  }
  // Best split: 6 on the fast one, 2 on the slow one (6 x 1 = 2 x 3).
  CHECK(moves.size() == 2);
  CHECK(c.held[0].size() == 6);
}

TEST_CASE("many small groups even out a skew that no single move of one clears") {
  // 32 groups dealt alternately, every fourth one twice as long: worker 0
  // holds all the long ones, 24 units against 16. Moving one long group
  // (2 of 24) gains less than kGain; two of them even the workers out.
  std::vector<std::vector<int>> held(2);
  std::vector<double> weight;
  for (int i = 0; i < 32; ++i) {
    held[i % 2].push_back(i);
    weight.push_back(i % 4 == 0 ? 2 : 1);
  }
  Cluster c(held, {0.001, 0.001}, weight);
  REQUIRE(c.load(0) / c.load(1) == doctest::Approx(1.5));
  std::vector<Move> moves;
  for (int round = 0; round < 10; ++round) {
    int tasks = static_cast<int>(1 / std::max(c.load(0), c.load(1)));  // the busier sets the pace
    for (auto move = c.window(1, tasks); move; move = c.apply(*move)) moves.push_back(*move);
  }
  // Worker 0's long groups make it look slower per task than worker 1; a
  // plan trusting that would move a third group and overshoot.
  CHECK(moves.size() == 2);
  for (const Move& m : moves) CHECK(m.from == WorkerId(0));
  CHECK(c.load(0) == doctest::Approx(c.load(1)));
}

TEST_CASE("nothing moves when the workers are equally busy, or all idle") {
  Cluster even({{0, 1}, {2, 3}}, {0.01, 0.01});
  for (int round = 0; round < 5; ++round) CHECK_FALSE(even.window(1, 40));
  Cluster idle({{0, 1}, {2, 3}}, {0.001, 0.003});
  for (int round = 0; round < 5; ++round) CHECK_FALSE(idle.window(1, 40));
}

TEST_CASE("a window grows until it holds enough tasks to compare workers") {
  Cluster c({{0, 1, 2, 3}, {4, 5, 6, 7}}, {0.01, 0.05});
  CHECK_FALSE(c.window(1, 1));                          // one long task each: too few to tell
  CHECK(c.window(1, Balancer::kMinTasks).has_value());  // the grown window tells
}

TEST_CASE("a worker's speed is remembered while it holds nothing to compare") {
  // Two partitions; worker 1 is 4 times slower. Once both are on worker 0,
  // worker 0 is busy and worker 1 idle, but moving one back would be worse.
  Cluster c({{0}, {1}}, {0.01, 0.04});
  auto first = c.window(1, 20);
  REQUIRE(first);
  CHECK(first->from == WorkerId(1));
  CHECK_FALSE(c.apply(*first));
  for (int round = 0; round < 5; ++round) CHECK_FALSE(c.window(1, 40));
}

TEST_CASE("a worker without threads (a lost one) neither holds decisions up nor receives groups") {
  // Worker 2 never reports; worker 1 is a straggler.
  Balancer b({1, 1, 0});
  auto key = [](int i) { return GroupPartition{GroupId(0), PartitionIndex(i)}; };
  std::map<GroupPartition, Load> fast = {{key(0), {0, 0}}}, slow = {{key(1), {0, 0}}, {key(2), {0, 0}}};
  b.report(WorkerId(0), 0, fast);
  b.report(WorkerId(1), 0, slow);
  fast[key(0)] = {10, 0.2};
  slow[key(1)] = {10, 0.45};
  slow[key(2)] = {10, 0.45};
  b.report(WorkerId(0), 1, fast);
  b.report(WorkerId(1), 1, slow);
  std::optional<Move> move = b.decide();
  REQUIRE(move);
  CHECK(move->from == WorkerId(1));
  CHECK(move->to == WorkerId(0));
}
