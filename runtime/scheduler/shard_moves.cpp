// What reaches a shard from outside its thread: messages, partition groups
// leaving and arriving (migration, steps 2 to 4 of docs/runtime.md), and
// central dispatch's launches.
#include <algorithm>
#include <optional>

#include "scheduler/shard.h"

namespace canary::rt {

void Shard::handle(Item item) {
  if (auto* m = std::get_if<Message>(&item)) {
    handle(std::move(*m));
  } else if (auto* r = std::get_if<Release>(&item)) {
    release(*r);
  } else if (auto* resume = std::get_if<Resume>(&item)) {
    resumed_through_ = std::max(resumed_through_, resume->snapshot);
  } else if (auto* l = std::get_if<Launch>(&item)) {
    launch(*l);
  } else {
    install(std::get<Install>(std::move(item)));
    if (at_end_ && !finished()) set_at_end(false);
    --env_.life.installs_pending;
  }
}

void Shard::handle(Message m) {
  if (m.kind == Message::Kind::Signal) {
    signals_[m.seq.value()] = m.signal;
    return;
  }
  // Parts for partitions that left this shard since the message was routed
  // go where the map now says (migration, step 3).
  int g = program_.group_of[plan_.target_dataset(m.stage)];
  auto gone = std::stable_partition(m.parts.begin(), m.parts.end(), [&](const Message::Part& p) {
    return held_[g][p.partition.value()] != 0;
  });
  if (gone != m.parts.end()) {
    std::vector<Message::Part> onward(std::make_move_iterator(gone), std::make_move_iterator(m.parts.end()));
    m.parts.erase(gone, m.parts.end());
    env_.router.accept(m.with_parts(std::move(onward)));
    if (m.parts.empty()) return;
  }
  Inbound& in = inbound_[m.seq.value()];
  in.stage = m.stage;
  switch (m.kind) {
    case Message::Kind::Chunks:
      for (Message::Part& p : m.parts)
        in.chunks[p.partition.value()].emplace_back(m.sender.value(), std::move(p.bytes));
      break;
    case Message::Kind::ReduceInput:
      in.inputs.emplace_back(m.sender.value(), std::move(m.value));
      break;
    case Message::Kind::BroadcastValue:
      in.value = std::move(m.value);
      in.has_value = true;
      break;
    case Message::Kind::Signal:
      break;
  }
  auto it = awaiting_.find(m.seq.value());
  if (it == awaiting_.end()) {
    // Late, for an instance every partition here has run: a copy of what a
    // handover brought.
    if (no_one_needs(m.seq.value(), in)) forget_unawaited(m.seq.value());
    return;
  }
  // Only the tasks this message may have made ready: trying every task of
  // the instance on every message cost a reduce over P partitions P^2.
  Issued* waiting = it->second;
  switch (m.kind) {
    case Message::Kind::Chunks:  // the gathers of the partitions the chunks are for
      for (const Message::Part& p : m.parts)
        if (p.partition.value() < waiting->main_tasks) try_spawn(waiting, p.partition.value());
      break;
    case Message::Kind::ReduceInput:  // the combine
      if (static_cast<int>(waiting->slots.size()) > waiting->main_tasks)
        try_spawn(waiting, waiting->main_tasks);
      break;
    default:
      for (int slot : waiting->local) try_spawn(waiting, slot);
  }
}

// Calls use(slot, dataset) for each task an instance has on partition i of
// group g: its main task, and for i == 0 its single task too, when they
// touch that group (both may). `dataset` is the one whose access counter
// says whether the task ran.
template <class Use>
void Shard::for_slots_on(const StageInstance& instance, int g, int i, Use&& use) const {
  const StageInfo& s = plan_.stage(instance.stage);
  int main = s.main_partitions_of();
  if (main >= 0 && program_.group_of[main] == g) use(i, main);
  if (s.has_single() && i == 0 && program_.group_of[s.single_touches.front()] == g)
    use(plan_.main_tasks(instance.stage), s.single_touches.front());
}

// Migration, steps 2 and 3: the tasks this shard issued for the group's
// partitions are dropped (none is running: this thread runs them), the
// access counters say how far they got, and they leave with what arrived for
// them and was not used yet.
void Shard::release(const Release& r) {
  int g = r.which.group.value(), i = r.which.partition.value();
  if (!held_[g][i]) return;
  Handover h;
  h.which = r.which;
  h.version = r.version;
  for (auto& [key, inbound] : inbound_) take_pending(key, inbound, g, i, r.version, h.pending);
  held_[g][i] = 0;
  mine_[g].erase(std::find(mine_[g].begin(), mine_[g].end(), i));
  catch_ups_.erase(std::remove_if(catch_ups_.begin(), catch_ups_.end(),
                                  [&](const CatchUp& c) { return c.group == g && c.partition == i; }),
                   catch_ups_.end());
  forget_inbound_no_one_needs();
  ready_.keep_if([&](const TaskRef& t) {
    bool on = false;
    for_slots_on(*t.instance, g, i, [&](int slot, int) { on |= slot == t.slot; });
    return !on;
  });
  auto drop = [&](Issued* in) { for_slots_on(*in, g, i, [&](int slot, int) { drop_slot(in, slot); }); };
  for (auto& in : window_) drop(in.get());
  std::vector<Issued*> replays;
  for (auto& [seq, in] : replays_) replays.push_back(in.get());
  for (Issued* in : replays) {
    drop(in);
    if (in->complete()) retire_replay(in);
  }
  for (int d : plan_.datasets_of_group[g]) {
    Partition leaving = std::move(env_.partitions.at(d, i));
    h.datasets.push_back({DatasetId(d), done_[d][i], leaving.bytes()});
  }
  retire();
  env_.config.peers->hand_over(r.to, h);
}

void Shard::drop_slot(Issued* in, int slot) {
  if (in->slots[slot] != kWaiting && in->slots[slot] != kSpawned) return;
  bool was_complete = in->complete();
  in->slots[slot] = kAbsent;
  in->local.erase(std::find(in->local.begin(), in->local.end(), slot));
  --in->tasks_total;
  if (!in->replay && !was_complete && in->complete()) --unfinished_;
}

// Moves what arrived for partition i of group g, and is not used yet, into
// `out` as the messages that brought it.
void Shard::take_pending(std::uint64_t key, Inbound& inbound, int g, int i, Version version,
                         std::vector<Message>& out) {
  const StageInfo& s = plan_.stage(inbound.stage);
  auto waiting = awaiting_.find(key);
  const Issued* in = waiting == awaiting_.end() ? nullptr : waiting->second;
  auto catching_up_to = [&](std::uint64_t seq) {
    return std::any_of(catch_ups_.begin(), catch_ups_.end(), [&](const CatchUp& c) {
      return c.group == g && c.partition == i && c.will_make(seq);
    });
  };
  // Partition i has used it when its task ran here, or ran before the
  // partition came (no task of it in an instance it is not catching up to).
  std::optional<std::uint64_t> retired = retired_instance(key, inbound);
  auto used = [&](int slot) {
    if (!in) return retired && !catching_up_to(*retired);
    return in->slots[slot] == kDone || (in->slots[slot] == kAbsent && !catching_up_to(in->seq));
  };
  if (s.kind == StageKind::Scatter && program_.group_of[s.to] == g) {
    auto chunks = inbound.chunks.find(i);
    if (chunks == inbound.chunks.end()) return;
    if (!used(i))
      for (auto& [sender, bytes] : chunks->second) {
        Message& m = out.emplace_back(Message::Kind::Chunks, Seq(key), inbound.stage, PartitionIndex(sender));
        m.parts.push_back({PartitionIndex(i), version, std::move(bytes)});
      }
    inbound.chunks.erase(chunks);
  } else if (s.kind == StageKind::Reduce && program_.group_of[s.writes[0]] == g && i == 0) {
    if (!used(in ? in->main_tasks : 0))
      for (auto& [sender, value] : inbound.inputs) {
        Message& m =
            out.emplace_back(Message::Kind::ReduceInput, Seq(key), inbound.stage, PartitionIndex(sender));
        m.value = std::move(value);
        m.parts.push_back({PartitionIndex(0), version, Bytes()});
      }
    inbound.inputs.clear();
  } else if (s.kind == StageKind::Broadcast && program_.group_of[s.writes[0]] == g && inbound.has_value &&
             !used(i)) {
    Message& m = out.emplace_back(Message::Kind::BroadcastValue, Seq(key), inbound.stage);
    m.value = inbound.value;
    m.parts.push_back({PartitionIndex(i), version, Bytes()});
  }
}

// Migration, step 4: the partitions join this shard where they left off.
// Instances not issued here yet will include them; those issued already get
// their tasks added, and those retired already are made again from the
// unrolling's checkpoints (with the signals this shard has seen), a
// window's worth at a time (catch_up()).
void Shard::install(Install x) {
  int g = x.which.group.value(), i = x.which.partition.value();
  held_[g][i] = 1;
  mine_[g].insert(std::lower_bound(mine_[g].begin(), mine_[g].end(), i), i);
  for (Install::Dataset& d : x.datasets) {
    env_.partitions.at(d.dataset, i) = std::move(d.value);
    done_[d.dataset][i] = d.accesses;
    saved_in_[d.dataset][i] = 0;
  }
  auto before = [&](const Unroller& u) {
    for (const Install::Dataset& d : x.datasets)
      if (u.accesses(d.dataset) > d.accesses) return false;
    return true;
  };
  // checkpoints_.front() is the start, before everything.
  const Unroller& from = *std::find_if(checkpoints_.rbegin(), checkpoints_.rend(), before);
  std::uint64_t first_in_window = window_.empty() ? issued() : window_.front()->seq;
  for (auto& in : window_) add_tasks_on(in.get(), g, i);
  if (from.issued() < first_in_window) catch_ups_.push_back({g, i, from, first_in_window});
  catch_up();
}

// The tasks `in` has on partition i of group g, unless they ran where the
// partition came from.
void Shard::add_tasks_on(Issued* in, int g, int i) {
  for_slots_on(*in, g, i, [&](int slot, int d) {
    if (in->position_of(d) < done_[d][i] || in->slots[slot] != kAbsent) return;
    bool was_complete = in->complete();
    add_slot(in, slot);
    if (!in->replay && was_complete) ++unfinished_;
    try_spawn(in, slot);
  });
}

// Whether `instance` has a task on partition i of group g that has not run.
bool Shard::yet_to_run(const StageInstance& instance, int g, int i) const {
  bool yet = false;
  for_slots_on(instance, g, i, [&](int, int d) { yet |= instance.position_of(d) >= done_[d][i]; });
  return yet;
}

// Makes again the instances partitions that arrived behind the window have
// yet to run, while fewer than a window's worth wait to run.
void Shard::catch_up() {
  auto budget = static_cast<std::size_t>(env_.config.window);
  std::size_t catching_up = catch_ups_.size();
  for (auto c = catch_ups_.begin(); c != catch_ups_.end();) {
    bool more = true;
    while (replays_.size() < budget && (more = c->cursor.issued() < c->until)) {
      if (c->cursor.next(caught_up_, signals_) != Unroller::Next::Instance) {
        more = false;  // cannot happen before the window: this shard has unrolled past it
        break;
      }
      if (yet_to_run(caught_up_, c->group, c->partition))
        add_tasks_on(replay_of(caught_up_), c->group, c->partition);
    }
    c = more ? std::next(c) : catch_ups_.erase(c);
  }
  if (catch_ups_.size() < catching_up) forget_inbound_no_one_needs();
}

Shard::Issued* Shard::replay_of(const StageInstance& instance) {
  auto it = replays_.find(instance.seq);
  if (it != replays_.end()) return it->second.get();
  std::unique_ptr<Issued> owned = make_issued(instance);
  Issued* in = owned.get();
  in->replay = true;
  for (const auto& [d, position] : in->positions) replay_at_[{d, position}] = in;
  if (in->waits) awaiting_[inbound_key(in)] = in;
  replays_.emplace(instance.seq, std::move(owned));
  return in;
}

void Shard::retire_replay(Issued* in) {
  for (const auto& [d, position] : in->positions) replay_at_.erase({d, position});
  // A partition still catching up makes this instance again for its own
  // tasks, and they need what arrived for it (a broadcast's value, say).
  bool made_again = std::any_of(catch_ups_.begin(), catch_ups_.end(), [&](const CatchUp& c) {
    return c.will_make(in->seq) && yet_to_run(*in, c.group, c.partition);
  });
  if (!made_again) {
    forget_inbound(in);
  } else if (in->waits) {
    awaiting_.erase(inbound_key(in));
    kept_for_catch_ups_[inbound_key(in)] = in->seq;
  }
  auto owned = replays_.find(in->seq);
  if (retired_.size() < kRetiredKept) retired_.push_back(std::move(owned->second));
  replays_.erase(owned);
}

void Shard::forget_inbound(const Issued* in) {
  if (!in->waits) return;
  awaiting_.erase(inbound_key(in));
  inbound_.erase(inbound_key(in));
  kept_for_catch_ups_.erase(inbound_key(in));
}

// The instance `inbound` arrived for, if this shard has retired it. A
// scatter's chunks are keyed by the scatter's instance: the gather that takes
// them may not be issued yet.
std::optional<std::uint64_t> Shard::retired_instance(std::uint64_t key, const Inbound& inbound) const {
  auto kept = kept_for_catch_ups_.find(key);
  if (kept != kept_for_catch_ups_.end()) return kept->second;
  std::uint64_t front = window_.empty() ? issued() : window_.front()->seq;
  if (plan_.stage(inbound.stage).kind != StageKind::Scatter && key < front) return key;
  return std::nullopt;
}

// What arrived for instances this shard retired, kept for partitions
// catching up (install()), is needed by no one once no catch-up will make
// them again; nor is a broadcast's value once its group has left. Called
// when catch-ups end or leave (migration, step 2).
void Shard::forget_inbound_no_one_needs() {
  for (auto it = inbound_.begin(); it != inbound_.end();) {
    if (awaiting_.count(it->first) != 0 || !no_one_needs(it->first, it->second)) {
      ++it;
      continue;
    }
    forget_unawaited((it++)->first);
  }
}

void Shard::forget_unawaited(std::uint64_t key) {
  kept_for_catch_ups_.erase(key);
  inbound_.erase(key);
}

// Whether what arrived under `key`, waited for by no instance, is for no
// partition here either.
bool Shard::no_one_needs(std::uint64_t key, const Inbound& inbound) const {
  if (inbound.chunks.empty() && inbound.inputs.empty() && !inbound.has_value) return true;
  // A broadcast's value is copied into handovers, and stays for the
  // partitions still here: once none of its group is, it is for no one
  // (this shard, behind, may not even have issued its instance yet).
  const StageInfo& s = plan_.stage(inbound.stage);
  if (s.kind == StageKind::Broadcast && mine_[program_.group_of[s.writes[0]]].empty()) return true;
  std::optional<std::uint64_t> retired = retired_instance(key, inbound);
  return retired && std::none_of(catch_ups_.begin(), catch_ups_.end(),
                                 [&](const CatchUp& c) { return c.will_make(*retired); });
}

// Central dispatch: what became ready waits for the controller's Launch.
void Shard::hold_for_launch() {
  ready_.for_each([&](const TaskRef& t) {
    launchable_[{t.instance->seq, t.slot}] = t.instance;
    made_ready_.push_back({Seq(t.instance->seq), t.slot});
  });
  ready_.clear();
}

void Shard::report_to_central(const std::vector<TaskId>& finished) {
  env_.config.central->report(id_, finished, made_ready_);
  made_ready_.clear();
}

void Shard::launch(const Launch& l) {
  for (const TaskId& t : l.tasks) {
    auto it = launchable_.find({t.seq.value(), t.slot});
    if (it == launchable_.end()) continue;  // not one of ours: refused by LocalScheduler::launch()
    launched_.push_back({it->second, t.slot});
    launchable_.erase(it);
  }
}

}  // namespace canary::rt
