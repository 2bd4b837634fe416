#include "scheduler/router.h"

#include <algorithm>
#include <map>
#include <string>

namespace canary::rt {

Router::Router(const Plan& plan, Seat seat, const PartitionMap& map, Peers* peers, ToShard to_shard)
    : plan_(plan),
      self_(seat.self),
      workers_(seat.workers),
      threads_(seat.shards),
      peers_(peers),
      to_shard_(std::move(to_shard)) {
  // Partition i of every dataset of a group lives on one worker (the map)
  // and there on one shard: a worker deals its partitions round-robin.
  Routing r;
  r.owner = map.owner;
  r.version = map.version;
  int next = 0;
  for (const auto& g : r.owner) {
    std::vector<int>& shards_of_group = r.shard.emplace_back();
    for (WorkerId w : g) shards_of_group.push_back(w == self_ ? next++ % threads_ : kElsewhere);
  }
  publish(std::move(r));
}

Status Router::check_map(const Plan& plan, const PartitionMap& map) {
  const Program& program = plan.program;
  if (map.groups() != plan.groups || map.version.size() != map.owner.size())
    return Status::error("the partition map has the wrong number of groups");
  for (std::size_t d = 0; d < program.datasets.size(); ++d) {
    int g = program.group_of[d];
    if (map.partitions(GroupId(g)) != plan.partitions_of[d] || map.version[g].size() != map.owner[g].size())
      return Status::error("the partition map does not match dataset '" + program.datasets[d].name + "'");
  }
  for (const auto& g : map.owner)
    for (WorkerId w : g)
      if (w.value() < 0) return Status::error("the partition map leaves a partition without a worker");
  return Status::fine();
}

void Router::publish(Routing r) {
  const Program& program = plan_.program;
  r.workers_of.assign(program.datasets.size(), {});
  for (std::size_t d = 0; d < program.datasets.size(); ++d)
    for (WorkerId w : r.owner[program.group_of[d]]) {
      std::vector<WorkerId>& list = r.workers_of[d];
      if (std::find(list.begin(), list.end(), w) == list.end()) list.push_back(w);
    }
  std::atomic_store(&routing_, std::make_shared<const Routing>(std::move(r)));
}

template <class Change>
void Router::reroute(Change&& change) {
  std::vector<Message> retry;
  {
    std::lock_guard<std::mutex> lock(held_mutex_);
    Routing next = *routing();
    change(next);
    publish(std::move(next));
    retry.swap(held_messages_);
  }
  for (Message& m : retry) accept(std::move(m));
}

Status Router::check(const Message& m) const {
  const StageInfo& s = plan_.stage(m.stage);
  auto sender_ok = [&](int d) { return m.sender.value() >= 0 && m.sender.value() < plan_.partitions_of[d]; };
  auto parts_in = [&](int d, bool only_first) {
    for (const Message::Part& p : m.parts)
      if (p.partition.value() < 0 || p.partition.value() >= (only_first ? 1 : plan_.partitions_of[d]))
        return false;
    return true;
  };
  auto ok_if = [](bool ok, const char* why) { return ok ? Status::fine() : Status::error(why); };
  switch (m.kind) {
    case Message::Kind::Chunks:
      if (!sender_ok(s.reads[0])) return Status::error("chunks from a partition that does not exist");
      return ok_if(parts_in(s.to, false), "chunks for a partition that does not exist");
    case Message::Kind::ReduceInput:
      if (!sender_ok(s.reads[0]))
        return Status::error("a reduction input from a partition that does not exist");
      return ok_if(parts_in(s.writes[0], true) && m.parts.size() == 1,
                   "a reduction input for a bad partition");
    case Message::Kind::BroadcastValue:
      return ok_if(parts_in(s.writes[0], false), "a broadcast value for a partition that does not exist");
    case Message::Kind::Signal:
      return Status::fine();
  }
  return Status::fine();
}

void Router::send(WorkerId w, Message m) {
  if (w == self_) {
    accept(std::move(m));
  } else {
    peers_->send(w, m);
  }
}

void Router::accept(Message m) {
  auto r = routing();
  int d = plan_.target_dataset(m.stage);
  if (m.kind == Message::Kind::Signal || d < 0) {
    dispatch(std::move(m), *r);
    return;
  }
  int g = plan_.program.group_of[d];
  std::vector<Message::Part> local, later;
  std::map<WorkerId, std::vector<Message::Part>> onward;
  for (Message::Part& p : m.parts) {
    int i = p.partition.value();
    int shard = r->shard[g][i];
    if (shard >= 0) {
      local.push_back(std::move(p));
    } else if (shard == kArriving || p.version > r->version[g][i]) {
      later.push_back(std::move(p));
    } else {
      onward[r->owner[g][i]].push_back({p.partition, r->version[g][i], std::move(p.bytes)});
    }
  }
  for (auto& [w, parts] : onward) {
    forwarded_ += parts.size();
    peers_->send(w, m.with_parts(std::move(parts)));
  }
  if (!later.empty()) {
    std::unique_lock<std::mutex> lock(held_mutex_);
    if (routing() == r) {
      held_ += later.size();
      held_messages_.push_back(m.with_parts(std::move(later)));
    } else {  // the map changed meanwhile: decide again
      lock.unlock();
      accept(m.with_parts(std::move(later)));
    }
  }
  if (!local.empty()) dispatch(m.with_parts(std::move(local)), *r);
}

void Router::dispatch(Message m, const Routing& r) {
  const StageInfo& stage = plan_.stage(m.stage);
  auto shard_of = [&](int d, PartitionIndex i) { return r.shard[plan_.program.group_of[d]][i.value()]; };
  auto for_shards = [&](int d) {
    std::map<int, std::vector<Message::Part>> by_shard;
    for (Message::Part& p : m.parts) by_shard[shard_of(d, p.partition)].push_back(std::move(p));
    for (auto& [shard, parts] : by_shard) to_shard_(shard, m.with_parts(std::move(parts)));
  };
  switch (m.kind) {
    case Message::Kind::Chunks:
      for_shards(stage.to);
      break;
    case Message::Kind::ReduceInput:
      to_shard_(shard_of(stage.writes[0], PartitionIndex(0)), std::move(m));
      break;
    case Message::Kind::BroadcastValue:
      for_shards(stage.writes[0]);
      break;
    case Message::Kind::Signal:
      for (int shard = 0; shard < threads_; ++shard) to_shard_(shard, m);
      break;
  }
}

Status Router::update(const PartitionMap& map) {
  Status fits = check_map(plan_, map);
  if (!fits.ok()) return fits;
  auto old = routing();
  for (std::size_t g = 0; g < map.owner.size(); ++g)
    for (std::size_t i = 0; i < map.owner[g].size(); ++i)
      if (map.version[g][i] > old->version[g][i] && old->shard[g][i] >= 0 && map.owner[g][i] != self_)
        return Status::error("the map moves partition " + std::to_string(i) + " of group " +
                             std::to_string(g) + " away from this worker, which needs a migration");
  reroute([&](Routing& next) {
    for (std::size_t g = 0; g < map.owner.size(); ++g)
      for (std::size_t i = 0; i < map.owner[g].size(); ++i) {
        if (map.version[g][i] <= next.version[g][i]) continue;  // not newer than what we know
        bool here = map.owner[g][i] == self_;
        next.owner[g][i] = map.owner[g][i];
        next.version[g][i] = map.version[g][i];
        next.shard[g][i] = here ? kArriving : kElsewhere;  // not held here: checked above
      }
  });
  return Status::fine();
}

Status Router::move_away(GroupPartition which, WorkerId to, Version version, Release release) {
  auto r = routing();
  int g = which.group.value(), i = which.partition.value();
  if (g < 0 || g >= plan_.groups || i < 0 || i >= static_cast<int>(r->owner[g].size()))
    return Status::error("a migration of a partition that does not exist");
  if (to.value() < 0 || to.value() >= workers_ || to == self_)
    return Status::error("a migration to a bad worker");
  int shard = r->shard[g][i];
  if (shard < 0) return Status::error("a migration of a partition this worker does not hold");
  if (version <= r->version[g][i]) return Status::error("a migration with an old map version");
  reroute([&](Routing& next) {
    next.owner[g][i] = to;
    next.version[g][i] = version;
    next.shard[g][i] = kElsewhere;
    to_shard_(shard, release);
  });
  return Status::fine();
}

int Router::move_here(GroupPartition which, Version version, Install install) {
  auto r = routing();
  int g = which.group.value(), i = which.partition.value();
  std::vector<int> held(threads_, 0);
  for (int s : r->shard[g])
    if (s >= 0) ++held[s];
  int shard = static_cast<int>(std::min_element(held.begin(), held.end()) - held.begin());
  reroute([&](Routing& next) {
    next.owner[g][i] = self_;
    next.version[g][i] = version;
    next.shard[g][i] = shard;
    to_shard_(shard, std::move(install));
  });
  return shard;
}

}  // namespace canary::rt
