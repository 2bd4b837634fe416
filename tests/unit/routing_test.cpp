// The paper's section 4.2 receive rule, on one worker's scheduler with a
// fake for the other workers: parts for partitions held elsewhere are
// forwarded when the sender's map entry is not newer than ours, and held
// until our map catches up when it is.
#include <canary/program.h>
#include <doctest/doctest.h>

#include <mutex>

#include "scheduler.h"

using namespace canary::rt;

namespace {

// The other workers: records what this worker sends them.
class FakePeers : public Peers {
 public:
  void send(int worker, const Message& m) override {
    std::lock_guard<std::mutex> lock(mutex);
    sent.emplace_back(worker, m);
  }
  void hand_over(int worker, const Handover& h) override {
    std::lock_guard<std::mutex> lock(mutex);
    handed.emplace_back(worker, h);
  }
  std::mutex mutex;
  std::vector<std::pair<int, Message>> sent;
  std::vector<std::pair<int, Handover>> handed;
};

// scatter "spread" reads `a` (4 partitions) and sends to `b` (4 partitions),
// which gather "merge" merges.
Program scatter_program() {
  Program p;
  p.job = "routing";
  p.graph_json = "{}";
  p.datasets = {{"a", type_ops<double>()}, {"b", type_ops<double>()}};
  p.stages.push_back({"spread", StageKind::Scatter, {0}, {}, 1, nullptr, false});
  p.stages.push_back({"merge", StageKind::Gather, {}, {1}, -1, nullptr, false});
  p.body = {{false, 0}, {false, 1}};
  p.group_of = {0, 1};
  p.new_params = [] { return static_cast<void*>(nullptr); };
  p.delete_params = [](void*) {};
  p.set_param = [](void*, const std::string&, const std::string&, std::string&) { return false; };
  p.evaluate_counts = [](const void*, std::vector<int>& datasets, std::vector<int>& loops) {
    datasets = {4, 4};
    loops = {};
  };
  p.bind = [](const void*) {};
  return p;
}

Message chunk_for(int partition, std::uint64_t version) {
  Message m(Message::Kind::Chunks, 0, 0, 2);
  m.parts.push_back({partition, version, "values"});
  return m;
}

}  // namespace

TEST_CASE("a worker forwards, holds, and after a map update forwards what it held") {
  Program program = scatter_program();
  // This is worker 0 of 3. Partitions of b: 0 here, 1 and 3 on worker 1, 2 on worker 2.
  PartitionMap map;
  map.owner = {{0, 1, 2, 1}, {0, 1, 2, 1}};
  map.version = {{1, 1, 1, 1}, {1, 1, 1, 1}};
  FakePeers peers;
  RunConfig config;
  config.worker = 0;
  config.map = &map;
  config.peers = &peers;
  Outputs outputs(program);
  LocalScheduler scheduler(program, nullptr, config, outputs);

  SUBCASE("a part for a partition held elsewhere, from a sender no newer than us, is forwarded") {
    CHECK(scheduler.deliver(chunk_for(1, 1)).empty());
    REQUIRE(peers.sent.size() == 1);
    CHECK(peers.sent[0].first == 1);
    REQUIRE(peers.sent[0].second.parts.size() == 1);
    CHECK(peers.sent[0].second.parts[0].partition == 1);
    CHECK(peers.sent[0].second.parts[0].bytes == "values");
    CHECK(peers.sent[0].second.sender == 2);
    CHECK(scheduler.forwarded() == 1);
    CHECK(scheduler.held() == 0);
  }

  SUBCASE("a part from a sender whose entry is newer is held until our map catches up") {
    CHECK(scheduler.deliver(chunk_for(3, 2)).empty());
    CHECK(peers.sent.empty());
    CHECK(scheduler.held() == 1);

    PartitionMap newer = map;
    newer.owner[1][3] = 2;  // partition 3 of b moved from worker 1 to worker 2
    newer.version[1][3] = 2;
    CHECK(scheduler.update_map(newer).empty());
    REQUIRE(peers.sent.size() == 1);
    CHECK(peers.sent[0].first == 2);
    CHECK(peers.sent[0].second.parts[0].partition == 3);
    CHECK(peers.sent[0].second.parts[0].version == 2);
    CHECK(scheduler.forwarded() == 1);
  }

  SUBCASE("one message's parts go their separate ways") {
    Message m = chunk_for(0, 1);  // held here
    m.parts.push_back({1, 1, ""});
    m.parts.push_back({2, 1, "more"});
    CHECK(scheduler.deliver(m).empty());
    REQUIRE(peers.sent.size() == 2);
    for (const auto& [worker, sent] : peers.sent) {
      REQUIRE(sent.parts.size() == 1);
      CHECK(sent.parts[0].partition == worker);  // 1 to worker 1, 2 to worker 2
    }
  }

  SUBCASE("an older map entry does not overwrite a newer one") {
    PartitionMap older = map;
    older.owner[1][2] = 1;
    older.version[1][2] = 0;
    CHECK(scheduler.update_map(older).empty());
    CHECK(scheduler.deliver(chunk_for(2, 1)).empty());
    REQUIRE(peers.sent.size() == 1);
    CHECK(peers.sent[0].first == 2);
  }

  SUBCASE("a partition the map moves here waits for its handover; one leaving is handed over") {
    PartitionMap moved = map;
    moved.owner[1][2] = 0;  // from worker 2 to this one (migration, step 1)
    moved.version[1][2] = 2;
    CHECK(scheduler.update_map(moved).empty());
    CHECK(scheduler.deliver(chunk_for(2, 2)).empty());
    CHECK(peers.sent.empty());  // held, not sent back to worker 2
    CHECK(scheduler.held() == 1);

    CHECK(scheduler.migrate(1, 0, 1, 2).empty());  // partition 0 of b leaves for worker 1
    CHECK(scheduler.migrate(1, 0, 1, 3) == "a migration of a partition this worker does not hold");
    CHECK(scheduler.migrate(1, 1, 0, 9) == "a migration to a bad worker");
    Handover bogus;
    bogus.group = 1;
    bogus.partition = 2;
    bogus.version = 2;
    CHECK(scheduler.adopt(bogus) == "a handover without every dataset of its group, in order");
    bogus.datasets.push_back({1, 0, "abc"});  // 3 bytes: no double
    CHECK(scheduler.adopt(bogus).find("a handover with a malformed partition") == 0);
  }

  SUBCASE("bad input is refused with a reason, never trusted") {
    CHECK(scheduler.deliver(chunk_for(7, 1)) == "chunks for a partition that does not exist");
    Message from_nowhere = chunk_for(0, 1);
    from_nowhere.sender = 99;
    CHECK(scheduler.deliver(from_nowhere) == "chunks from a partition that does not exist");
    PartitionMap takes_ours = map;
    takes_ours.owner[1][0] = 1;
    takes_ours.version[1][0] = 5;
    CHECK(scheduler.update_map(takes_ours).find("needs a migration") != std::string::npos);
    PartitionMap wrong_shape;
    wrong_shape.owner = {{0}};
    wrong_shape.version = {{1}};
    CHECK(scheduler.update_map(wrong_shape) == "the partition map has the wrong number of groups");
    CHECK(peers.sent.empty());
  }
}
