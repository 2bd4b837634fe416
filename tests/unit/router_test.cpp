// The paper's section 4.2 receive rule, on one worker's router with fakes for
// the other workers and for its shards: parts for partitions held elsewhere
// are forwarded when the sender's map entry is not newer than ours, and held
// until our map catches up when it is; parts held here go to their shard.
#include "scheduler/router.h"

#include <doctest/doctest.h>

#include <mutex>

#include "core/outputs.h"
#include "job_builder.h"
#include "program_builder.h"
#include "scheduler/local_scheduler.h"
#include "worker_ids.h"

using namespace canary::rt;
using canary::compiler::Count;
using canary::compiler::testing::JobBuilder;
using canary::testing::Counts;
using canary::testing::program_of;
using canary::testing::worker_ids;

namespace {

// The other workers: records what this worker sends them.
class FakePeers : public Peers {
 public:
  void send(WorkerId worker, const Message& m) override {
    std::lock_guard<std::mutex> lock(mutex);
    sent.emplace_back(worker, m);
  }
  void hand_over(WorkerId worker, const Handover& h) override {
    std::lock_guard<std::mutex> lock(mutex);
    handed.emplace_back(worker, h);
  }
  std::mutex mutex;
  std::vector<std::pair<WorkerId, Message>> sent;
  std::vector<std::pair<WorkerId, Handover>> handed;
};

// scatter "spread" reads `a` (4 partitions) and sends to `b` (4 partitions),
// which gather "merge" merges.
Program scatter_program() {
  JobBuilder b;
  auto a = b.dataset("a", Count::of(4));
  auto to = b.dataset("b", Count::of(4));
  b.transform("make", {}, {a});
  b.scatter("spread", {a}, to);
  b.gather("merge", to);
  return program_of(b.job);
}

Message chunk_for(int partition, std::uint64_t version) {
  Message m(Message::Kind::Chunks, Seq(0), StageId(1), PartitionIndex(2));
  m.parts.push_back({PartitionIndex(partition), Version(version), "values"});
  return m;
}

// This is worker 0 of 3. Partitions of b: 0 here, 1 and 3 on worker 1, 2 on
// worker 2 (and the same for a).
struct Fixture {
  Fixture()
      : plan(program, &counts), router(plan, {WorkerId(0), 3, 2}, map, &peers, [this](int shard, Item item) {
          queued.emplace_back(shard, std::move(item));
        }) {}
  Program program = scatter_program();
  Counts counts{{4, 4}, {}};
  Plan plan;
  PartitionMap map{{worker_ids({0, 1, 2, 1}), worker_ids({0, 1, 2, 1})},
                   {std::vector<Version>(4, Version(1)), std::vector<Version>(4, Version(1))}};
  FakePeers peers;
  std::vector<std::pair<int, Item>> queued;  // what went to this worker's shards
  Router router;
};

}  // namespace

TEST_CASE("the receive rule: held here, forwarded, or held until the map catches up") {
  Fixture f;
  Router& router = f.router;

  SUBCASE("a part for a partition held here goes to the shard holding it") {
    router.accept(chunk_for(0, 1));
    REQUIRE(f.queued.size() == 1);
    // Dealt round-robin over the groups' partitions held here: a's partition 0
    // to shard 0, b's to shard 1.
    CHECK(f.queued[0].first == 1);
    const Message& m = std::get<Message>(f.queued[0].second);
    CHECK(m.parts[0].partition == PartitionIndex(0));
    CHECK(f.peers.sent.empty());
  }

  SUBCASE("a part for a partition held elsewhere, from a sender no newer than us, is forwarded") {
    router.accept(chunk_for(1, 1));
    REQUIRE(f.peers.sent.size() == 1);
    CHECK(f.peers.sent[0].first == WorkerId(1));
    REQUIRE(f.peers.sent[0].second.parts.size() == 1);
    CHECK(f.peers.sent[0].second.parts[0].partition == PartitionIndex(1));
    CHECK(f.peers.sent[0].second.parts[0].bytes == "values");
    CHECK(f.peers.sent[0].second.sender == PartitionIndex(2));
    CHECK(router.forwarded() == 1);
    CHECK(router.held() == 0);
  }

  SUBCASE("a part from a sender whose entry is newer is held until our map catches up") {
    router.accept(chunk_for(3, 2));
    CHECK(f.peers.sent.empty());
    CHECK(router.held() == 1);
    PartitionMap newer = f.map;
    newer.owner[1][3] = WorkerId(2);  // partition 3 of b moved from worker 1 to worker 2
    newer.version[1][3] = Version(2);
    CHECK(router.update(newer).ok());
    REQUIRE(f.peers.sent.size() == 1);
    CHECK(f.peers.sent[0].first == WorkerId(2));
    CHECK(f.peers.sent[0].second.parts[0].partition == PartitionIndex(3));
    CHECK(f.peers.sent[0].second.parts[0].version == Version(2));
    CHECK(router.forwarded() == 1);
  }

  SUBCASE("one message's parts go their separate ways") {
    Message m = chunk_for(0, 1);  // held here
    m.parts.push_back({PartitionIndex(1), Version(1), ""});
    m.parts.push_back({PartitionIndex(2), Version(1), "more"});
    router.accept(m);
    CHECK(f.queued.size() == 1);
    REQUIRE(f.peers.sent.size() == 2);
    for (const auto& [worker, sent] : f.peers.sent) {
      REQUIRE(sent.parts.size() == 1);
      CHECK(sent.parts[0].partition.value() == worker.value());  // 1 to worker 1, 2 to worker 2
    }
  }

  SUBCASE("an older map entry does not overwrite a newer one") {
    PartitionMap older = f.map;
    older.owner[1][2] = WorkerId(1);
    older.version[1][2] = Version(0);
    CHECK(router.update(older).ok());
    router.accept(chunk_for(2, 1));
    REQUIRE(f.peers.sent.size() == 1);
    CHECK(f.peers.sent[0].first == WorkerId(2));
  }

  SUBCASE("a partition the map moves here waits for its handover") {
    PartitionMap moved = f.map;
    moved.owner[1][2] = WorkerId(0);  // from worker 2 to this one (migration, step 1)
    moved.version[1][2] = Version(2);
    CHECK(router.update(moved).ok());
    router.accept(chunk_for(2, 2));
    CHECK(f.peers.sent.empty());  // held, not sent back to worker 2
    CHECK(router.held() == 1);
    // Migration, step 4: the install goes to a shard before the held part does.
    int shard = router.move_here({GroupId(1), PartitionIndex(2)}, Version(2), Install{});
    REQUIRE(f.queued.size() == 2);
    CHECK(f.queued[0].first == shard);
    CHECK(std::holds_alternative<Install>(f.queued[0].second));
    CHECK(std::holds_alternative<Message>(f.queued[1].second));
  }

  SUBCASE("a partition leaving: its shard gets the release, and what comes after goes on") {
    GroupPartition leaving{GroupId(1), PartitionIndex(0)};
    CHECK(router.move_away(leaving, WorkerId(1), Version(2), Release{leaving, WorkerId(1), Version(2)}).ok());
    REQUIRE(f.queued.size() == 1);
    CHECK(std::holds_alternative<Release>(f.queued[0].second));
    router.accept(chunk_for(0, 1));
    REQUIRE(f.peers.sent.size() == 1);
    CHECK(f.peers.sent[0].first == WorkerId(1));
    CHECK(router.move_away(leaving, WorkerId(1), Version(3), Release{}).why() ==
          "a migration of a partition this worker does not hold");
    CHECK(router.move_away({GroupId(1), PartitionIndex(1)}, WorkerId(0), Version(9), Release{}).why() ==
          "a migration to a bad worker");
  }

  SUBCASE("bad input is refused with a reason, never trusted") {
    CHECK(router.check(chunk_for(7, 1)).why() == "chunks for a partition that does not exist");
    Message from_nowhere = chunk_for(0, 1);
    from_nowhere.sender = PartitionIndex(99);
    CHECK(router.check(from_nowhere).why() == "chunks from a partition that does not exist");
    PartitionMap takes_ours = f.map;
    takes_ours.owner[1][0] = WorkerId(1);
    takes_ours.version[1][0] = Version(5);
    CHECK(router.update(takes_ours).why().find("needs a migration") != std::string::npos);
    PartitionMap wrong_shape;
    wrong_shape.owner = {worker_ids({0})};
    wrong_shape.version = {{Version(1)}};
    CHECK(router.update(wrong_shape).why() == "the partition map has the wrong number of groups");
    CHECK(f.peers.sent.empty());
  }
}

TEST_CASE("a handover is refused whole when it does not fit, never half installed") {
  Program program = scatter_program();
  Counts counts{{4, 4}, {}};
  PartitionMap map{{worker_ids({0, 1, 2, 1}), worker_ids({0, 1, 2, 1})},
                   {std::vector<Version>(4, Version(1)), std::vector<Version>(4, Version(1))}};
  FakePeers peers;
  RunConfig config;
  config.map = &map;
  config.peers = &peers;
  Outputs outputs(program);
  LocalScheduler scheduler(program, &counts, config, outputs);
  Handover bogus;
  bogus.which = {GroupId(1), PartitionIndex(2)};
  bogus.version = Version(2);
  CHECK(scheduler.adopt(bogus).why() == "a handover without every dataset of its group, in order");
  bogus.datasets.push_back({DatasetId(1), 0, "abc"});  // 3 bytes: no double
  CHECK(scheduler.adopt(bogus).why().find("a handover with a malformed partition") == 0);
  bogus.which = {GroupId(1), PartitionIndex(0)};
  CHECK(scheduler.adopt(bogus).why() == "a handover of a partition this worker holds already");
}
