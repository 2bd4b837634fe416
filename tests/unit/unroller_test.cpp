// Unrolling and the plan, on job models built by hand: the sequence of stage
// instances every shard makes, the access positions that say each
// partition's turn, signals deciding the way, snapshot cuts, and a copy
// replaying the same sequence; and the per-stage facts the plan gives.
#include "scheduler/unroller.h"

#include <doctest/doctest.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "job_builder.h"
#include "program_builder.h"

using namespace canary::rt;
using canary::compiler::Count;
using canary::compiler::testing::JobBuilder;
using canary::testing::Counts;
using canary::testing::program_of;

namespace {

// init; loop(2) { grad; step }; while (more) { grow }; if (big) { halve } else { double }
struct Sample {
  Sample() {
    JobBuilder b;
    auto x = b.dataset("x", Count::of(4));
    auto s = b.dataset("s", Count::of(1));
    b.transform("init", {}, {x, s});
    b.loop(Count::of(2), [&] {
      b.transform("grad", {x}, {x});
      b.transform("step", {s}, {s});
    });
    b.loop_while("more", s, [&] { b.transform("grow", {}, {s}); });
    b.if_(
        "big", s, [&] { b.transform("halve", {}, {x}); }, [&] { b.transform("double", {}, {x}); });
    program = program_of(b.job);
  }
  Program program;
  Counts counts{{4, 1}, {2, 0, 0}};
};

// The instances until the unrolling waits or ends, by stage name.
std::vector<std::string> unroll(const Plan& plan, Unroller& u,
                                const std::unordered_map<std::uint64_t, bool>& signals,
                                std::vector<StageInstance>* out = nullptr) {
  std::vector<std::string> names;
  StageInstance in;
  while (u.next(in, signals) == Unroller::Next::Instance) {
    names.push_back(plan.stage(in.stage).name);
    if (out) out->push_back(in);
  }
  return names;
}

}  // namespace

TEST_CASE("a loop unrolls its body count times; a signal stops the unrolling until its value is known") {
  Sample s;
  Plan plan(s.program, &s.counts);
  Unroller u(plan);
  std::unordered_map<std::uint64_t, bool> signals;
  std::vector<StageInstance> made;
  CHECK(unroll(plan, u, signals, &made) ==
        std::vector<std::string>{"init", "grad", "step", "grad", "step", "more"});
  for (std::size_t i = 0; i < made.size(); ++i) CHECK(made[i].seq == i);
  CHECK(made[3].iterations == std::vector<int>{1});  // grad, in the loop's second iteration
  StageInstance next;
  CHECK(u.next(next, signals) == Unroller::Next::Signal);

  signals[made.back().seq] = true;  // `more` holds once
  CHECK(unroll(plan, u, signals, &made) == std::vector<std::string>{"grow", "more"});
  signals[made.back().seq] = false;
  CHECK(unroll(plan, u, signals, &made) == std::vector<std::string>{"big"});
  signals[made.back().seq] = false;
  CHECK(unroll(plan, u, signals, &made) == std::vector<std::string>{"double"});
  CHECK(u.next(next, signals) == Unroller::Next::End);
}

TEST_CASE("access positions count the instances that touched a dataset before") {
  Sample s;
  Plan plan(s.program, &s.counts);
  Unroller u(plan);
  std::vector<StageInstance> made;
  unroll(plan, u, {}, &made);
  // x: init 0, grad 1, grad 2; s: init 0, step 1, step 2, more 3.
  CHECK(made[0].position_of(0) == 0);
  CHECK(made[0].position_of(1) == 0);
  CHECK(made[3].position_of(0) == 2);
  CHECK(made[4].position_of(1) == 2);
  CHECK(made[5].position_of(1) == 3);
  CHECK(made[5].position_of(0) == kNoSeq);  // the signal does not touch x
  CHECK(u.accesses(0) == 3);
  CHECK(u.accesses(1) == 4);
}

TEST_CASE("a copy of the unroller replays the same instances") {
  Sample s;
  Plan plan(s.program, &s.counts);
  Unroller u(plan);
  StageInstance in;
  std::unordered_map<std::uint64_t, bool> signals;
  u.next(in, signals);  // init
  Unroller copy = u;
  std::vector<StageInstance> first, again;
  unroll(plan, u, signals, &first);
  unroll(plan, copy, signals, &again);
  REQUIRE(first.size() == again.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    CHECK(first[i].seq == again[i].seq);
    CHECK(first[i].stage == again[i].stage);
    CHECK(first[i].positions == again[i].positions);
  }
}

TEST_CASE("snapshot cuts fall where every Nth iteration of an outermost loop begins") {
  Sample s;
  Plan plan(s.program, &s.counts);
  plan.snapshot_every = 1;
  Unroller u(plan);
  std::vector<StageInstance> made;
  unroll(plan, u, {}, &made);
  std::vector<int> cuts;
  for (const StageInstance& in : made) cuts.push_back(in.cut);
  // Before the loop's second iteration, and before the while's signal is heard again.
  CHECK(cuts == std::vector<int>{0, 0, 0, 1, 0, 0});
}

TEST_CASE("a rollback replays the unrolling to a cut with the signal values it recorded") {
  Sample s;
  Plan plan(s.program, &s.counts);
  Cut cut{1, 7, {true}};  // after init, the loop, more (true) and grow
  StartPoint start = fast_forward(plan, cut);
  CHECK(start.unroller.issued() == 7);
  StageInstance in;
  CHECK(start.unroller.next(in, start.signals) == Unroller::Next::Instance);
  CHECK(plan.stage(in.stage).name == "more");
  CHECK_THROWS_AS(fast_forward(plan, Cut{1, 7, {}}), std::runtime_error);            // too few signal values
  CHECK_THROWS_AS(fast_forward(plan, Cut{1, 5, {true, true}}), std::runtime_error);  // too many
}

TEST_CASE("the plan: per-stage facts canaryc generated, and per-kind facts in one table") {
  JobBuilder b;
  auto data = b.dataset("data", Count::of(3));
  auto total = b.dataset("total", Count::of(1));
  auto copies = b.dataset("copies", Count::of(3));
  auto to = b.dataset("to", Count::of(5));
  b.transform("make", {}, {data});
  b.reduce("sum", data, total);
  b.broadcast("share", total, copies);
  b.scatter("spread", {data}, to);
  b.gather("merge", to);
  Program program = program_of(b.job);
  Counts counts{{3, 1, 3, 5}, {}};
  Plan plan(program, &counts);
  CHECK(plan.main_tasks(StageId(1)) == 3);  // sum: one send per input partition, the combine's slot is 3
  CHECK(plan.target_dataset(StageId(1)) == total);
  CHECK(plan.target_dataset(StageId(2)) == copies);
  CHECK(plan.target_dataset(StageId(3)) == to);
  CHECK(plan.main_tasks(StageId(4)) == 5);
  CHECK(plan.facts(StageId(4)).keyed_by_source);
  CHECK(plan.facts(StageId(1)).waits_for_messages);
  CHECK(!plan.facts(StageId(0)).waits_for_messages);
  CHECK(plan.facts(StageId(3)).sends == Message::Kind::Chunks);
  CHECK(!plan.facts(StageId(4)).sends);  // a gather sends nothing: chunks for it are refused
  CHECK(tasks_per_run(program, counts.first) == std::vector<int>{3, 3, 3, 3, 5});
  Counts none{{3, 0, 3, 5}, {}};
  CHECK_THROWS_AS(Plan(program, &none), std::runtime_error);
}
