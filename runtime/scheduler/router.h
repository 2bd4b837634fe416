// A worker's view of the partition map, and the paper's receive rule
// (section 4.2), applied part by part to every message: a part for a
// partition held here goes to the shard holding it; one for a partition on
// its way here, or held elsewhere under a newer map entry than ours, waits
// until our map changes; any other goes on to the owner our map names, with
// our version. Versions only go up, so no part goes back and forth.
// Thread-safe: the I/O thread, the compute threads and handovers all route.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/messages.h"
#include "core/partition_map.h"
#include "core/result.h"
#include "scheduler/inbox.h"
#include "scheduler/plan.h"

namespace canary::rt {

// How a worker's scheduler reaches the other workers. Called from compute
// threads concurrently.
class Peers {
 public:
  virtual ~Peers() = default;
  virtual void send(WorkerId worker, const Message& m) = 0;
  virtual void hand_over(WorkerId worker, const Handover& h) = 0;
};

class Router {
 public:
  static constexpr int kElsewhere = -1;  // Routing::shard: another worker holds it
  static constexpr int kArriving = -2;   // the map names this worker, the handover has not come yet

  // The map as this worker knows it now. Readers take a snapshot without
  // locking; a change swaps in a new one.
  struct Routing {
    std::vector<std::vector<WorkerId>> owner;   // [group][partition]
    std::vector<std::vector<Version>> version;  // [group][partition]
    std::vector<std::vector<int>> shard;        // [group][partition]: a local shard, kElsewhere or kArriving
    std::vector<std::vector<WorkerId>> workers_of;  // [dataset]: the workers holding some of it
  };

  // Puts an item in a shard's inbox.
  using ToShard = std::function<void(int shard, Item item)>;

  // Which worker this is, among how many, with how many shards.
  struct Seat {
    WorkerId self;
    int workers = 1;
    int shards = 1;
  };
  // `map` must fit the plan (check_map). This worker's partitions are dealt
  // round-robin over its shards.
  Router(const Plan& plan, Seat seat, const PartitionMap& map, Peers* peers, ToShard to_shard);

  static Status check_map(const Plan& plan, const PartitionMap& map);

  std::shared_ptr<const Routing> routing() const { return std::atomic_load(&routing_); }
  WorkerId self() const { return self_; }
  int workers() const { return workers_; }

  // Whether a message from another worker makes sense: its partitions and
  // sender exist. Where they are held is accept()'s business.
  Status check(const Message& m) const;
  // The receive rule.
  void accept(Message m);
  // Sends to worker `w`; to this one, accept().
  void send(WorkerId w, Message m);

  // A newer view of the map: entries may move partitions to this worker
  // (they arrive by handover), not away from it (that is a migration).
  Status update(const PartitionMap& map);
  // Migration, step 2 on the source: the entry names `to` from now on, and
  // the shard holding the partitions gets `release` before any message
  // routed by the new entry.
  Status move_away(GroupPartition which, WorkerId to, Version version, Release release);
  // Migration, step 4 on the destination: the entry names this worker, and
  // the shard holding the fewest of the group's partitions gets `install`
  // first. Returns that shard.
  int move_here(GroupPartition which, Version version, Install install);

  // Message parts forwarded to their owner, and held for a newer map, so far.
  std::uint64_t forwarded() const { return forwarded_; }
  std::uint64_t held() const { return held_; }

 private:
  void publish(Routing r);
  // Changes the map while nothing is being held, then gives every held part
  // another try under the new one. `change` may also queue work for shards,
  // which then precedes any message routed by the new map.
  template <class Change>
  void reroute(Change&& change);
  // Fans a message whose parts are all held here out to their shards.
  void dispatch(Message m, const Routing& r);

  const Plan& plan_;
  const WorkerId self_;
  const int workers_;
  const int threads_;
  Peers* peers_;
  ToShard to_shard_;
  std::shared_ptr<const Routing> routing_;  // atomic_load / atomic_store only
  std::mutex held_mutex_;
  std::vector<Message> held_messages_;  // parts waiting for this worker's map to change
  std::atomic<std::uint64_t> forwarded_{0}, held_{0};
};

}  // namespace canary::rt
