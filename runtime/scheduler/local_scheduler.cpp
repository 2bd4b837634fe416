#include "scheduler/local_scheduler.h"

#include <pthread.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>

#include "core/clock.h"
#include "placement/placement.h"
#include "scheduler/shard.h"
#include "store/snapshot.h"

namespace canary::rt {

struct LocalScheduler::Impl {
  Impl(const Program& program, const void* params, RunConfig c, Outputs& outputs)
      : config(std::move(c)),
        plan(program, params),
        map(config.map ? *config.map : PartitionMap::single(program, plan.partitions_of)),
        life(config.threads, lone_worker(), config.until_ended) {
    if (config.snapshots) plan.snapshot_every = config.snapshot_every;
    Status fits = Router::check_map(plan, map);
    if (!fits.ok()) throw std::runtime_error(fits.why());
    router = std::make_unique<Router>(plan, Router::Seat{config.worker, config.workers, config.threads}, map,
                                      config.peers,
                                      [this](int shard, Item item) { to_shard(shard, std::move(item)); });
    auto r = router->routing();
    partitions = PartitionTable(plan.program, plan.partitions_of);
    for (std::size_t d = 0; d < plan.program.datasets.size(); ++d)
      for (int i = 0; i < plan.partitions_of[d]; ++i)
        if (r->shard[plan.program.group_of[d]][i] >= 0)
          partitions.at(static_cast<int>(d), i) = Partition(plan.program.datasets[d].ops);
    work = GroupWorkTable(plan.groups);
    for (int g = 0; g < plan.groups; ++g) work[g] = std::vector<GroupWork>(r->owner[g].size());
    start = std::make_unique<StartPoint>(config.start_at > 0 ? load_snapshot(*r) : program_start(plan));
    life.wake_all = [this] {
      for (auto& s : shards) s->inbox().wake();
    };
    env.emplace(ShardEnvironment{plan, config, *start, partitions, work, *router, outputs, life});
  }

  // A map that places every partition here, with no other worker a message
  // could come from.
  bool lone_worker() {
    config.workers = std::max(config.workers, config.worker.value() + 1);
    for (const auto& g : map.owner)
      for (WorkerId w : g) config.workers = std::max(config.workers, w.value() + 1);
    return config.workers == 1;
  }

  // Rollback: this worker's partitions as the files of snapshot
  // `config.start_at` hold them, and the unrolling at its cut.
  StartPoint load_snapshot(const Router::Routing& r) {
    if (!config.snapshots) throw std::runtime_error("a rollback needs the snapshot directory");
    const SnapshotStore& store = *config.snapshots;
    int k = config.start_at;
    Result<PartitionFile> first = store.read(k, {GroupId(0), PartitionIndex(0)});
    if (!first.ok()) throw std::runtime_error(first.why());
    StartPoint start = fast_forward(plan, first.value().cut);
    for (int g = 0; g < plan.groups; ++g)
      for (int i = 0; i < static_cast<int>(r.shard[g].size()); ++i) {
        if (r.shard[g][i] < 0) continue;
        GroupPartition which{GroupId(g), PartitionIndex(i)};
        Result<PartitionFile> file = store.read(k, which);
        if (!file.ok()) throw std::runtime_error(file.why());
        std::string path = store.path_of(k, which);
        const std::vector<int>& expected = plan.datasets_of_group[g];
        const std::vector<PartitionBytes>& datasets = file.value().datasets;
        bool fits = file.value().cut.seq == first.value().cut.seq && datasets.size() == expected.size();
        for (std::size_t j = 0; fits && j < expected.size(); ++j)
          fits = datasets[j].dataset.value() == expected[j] &&
                 datasets[j].accesses == start.unroller.accesses(expected[j]);
        if (!fits) throw std::runtime_error("snapshot file " + path + " does not fit the snapshot's cut");
        for (const PartitionBytes& d : datasets) {
          try {
            partitions.at(d.dataset.value(), i).read(d.bytes);
          } catch (const std::exception& e) {
            throw std::runtime_error("snapshot file " + path + " holds a malformed partition: " + e.what());
          }
        }
      }
    return start;
  }

  void to_shard(int shard, Item item) {
    ++life.in_flight;
    shards[shard]->inbox().push(std::move(item));
  }

  // TSC ticks per second: the ticks since the scheduler was made, over the
  // steady clock's seconds (task bodies are timed in ticks).
  double tsc_hz() const {
    double seconds = seconds_since(made_at);
    return seconds > 0 ? (__rdtsc() - made_at_tsc) / seconds : 1e9;
  }

  RunStats stats() const {
    RunStats stats;
    stats.elapsed_s = seconds_since(made_at);
    double hz = tsc_hz();
    double thread_cpu = 0;
    for (const auto& s : shards) {
      stats.tasks += s->tasks();
      stats.tasks_per_thread.push_back(s->tasks());
      stats.task_cpu_s += s->body_ticks() / hz;
      thread_cpu += s->thread_cpu_s();
      stats.unused_messages += s->unused_at_end();
      stats.stage_instances = s->stage_instances();
    }
    stats.scheduler_cpu_s = std::max(0.0, thread_cpu - stats.task_cpu_s);
    return stats;
  }

  // Migration, step 4 on the destination: the partitions are decoded here,
  // on the receiving thread, so a malformed handover is refused whole.
  Status adopt(Handover h) {
    auto r = router->routing();
    int g = h.which.group.value(), i = h.which.partition.value();
    if (g < 0 || g >= plan.groups || i < 0 || i >= static_cast<int>(r->owner[g].size()))
      return Status::error("a handover of a partition that does not exist");
    if (r->shard[g][i] >= 0) return Status::error("a handover of a partition this worker holds already");
    if (h.version < r->version[g][i]) return Status::error("a handover older than this worker's map");
    std::vector<int> given;
    for (const PartitionBytes& d : h.datasets) given.push_back(d.dataset.value());
    if (given != plan.datasets_of_group[g])
      return Status::error("a handover without every dataset of its group, in order");
    for (const Message& m : h.pending) {
      Status ok = m.kind == Message::Kind::Signal ? Status::error("a signal") : router->check(m);
      if (ok.ok() && (plan.program.group_of[plan.target_dataset(m.stage)] != g || m.parts.size() != 1 ||
                      m.parts[0].partition != h.which.partition))
        ok = Status::error("a message for other partitions");
      if (!ok.ok()) return ok.about("a handover with ");
    }
    Install install{h.which, {}};
    try {
      for (const PartitionBytes& d : h.datasets) {
        Partition value(plan.program.datasets[d.dataset.value()].ops);
        value.read(d.bytes);
        install.datasets.push_back({d.dataset.value(), d.accesses, std::move(value)});
      }
    } catch (const std::exception& e) {
      return Status::error(std::string("a handover with a malformed partition: ") + e.what());
    }
    ++life.installs_pending;
    int shard = router->move_here(h.which, h.version, std::move(install));
    for (Message& m : h.pending) to_shard(shard, std::move(m));
    return Status::fine();
  }

  RunConfig config;
  Plan plan;
  PartitionMap map;
  Lifecycle life;
  std::unique_ptr<Router> router;
  PartitionTable partitions;
  GroupWorkTable work;
  std::unique_ptr<const StartPoint> start;
  std::optional<ShardEnvironment> env;
  std::vector<std::unique_ptr<Shard>> shards;

  const Clock::time_point made_at = Clock::now();
  const std::uint64_t made_at_tsc = __rdtsc();
};

LocalScheduler::LocalScheduler(const Program& program, const void* params, RunConfig config, Outputs& outputs)
    : impl_(std::make_unique<Impl>(program, params, std::move(config), outputs)) {
  // Messages may be delivered before run() starts the threads.
  for (int i = 0; i < impl_->config.threads; ++i)
    impl_->shards.push_back(std::make_unique<Shard>(*impl_->env, i));
}
LocalScheduler::~LocalScheduler() = default;

RunStats LocalScheduler::run() {
  Impl& j = *impl_;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < j.shards.size(); ++i)
    threads.emplace_back([&j, i] {
      // Named, so that tests (and top -H) find each shard's thread and its CPU.
      pthread_setname_np(pthread_self(), ("shard " + std::to_string(i)).c_str());
      if (!j.config.cpus.empty()) {
        Status pinned = run_on({j.config.cpus[i % j.config.cpus.size()]});
        if (!pinned.ok()) j.life.fail(pinned.why());
      }
      j.shards[i]->main_loop();
    });
  for (std::thread& t : threads) t.join();
  std::string failure = j.life.failure();
  if (!failure.empty()) throw std::runtime_error(failure);
  RunStats stats = j.stats();
  stats.elapsed_s = seconds_since(start);
  return stats;
}

RunStats LocalScheduler::stats() const { return impl_->stats(); }

Status LocalScheduler::deliver(Message m) {
  Status ok = impl_->router->check(m);
  if (ok.ok()) impl_->router->accept(std::move(m));
  return ok;
}

Status LocalScheduler::update_map(const PartitionMap& map) { return impl_->router->update(map); }

Status LocalScheduler::migrate(GroupPartition which, WorkerId to, Version version) {
  return impl_->router->move_away(which, to, version, Release{which, to, version});
}

Status LocalScheduler::adopt(Handover h) { return impl_->adopt(std::move(h)); }

bool LocalScheduler::idle() const {
  return impl_->life.shards_at_end == impl_->config.threads && impl_->life.installs_pending == 0;
}

void LocalScheduler::end() {
  impl_->life.ended = true;
  impl_->life.wake_all();
}

std::vector<GroupLoad> LocalScheduler::group_loads() const {
  auto r = impl_->router->routing();
  double hz = impl_->tsc_hz();
  std::uint64_t now = __rdtsc();
  std::vector<GroupLoad> loads;
  for (std::size_t g = 0; g < r->shard.size(); ++g)
    for (std::size_t i = 0; i < r->shard[g].size(); ++i) {
      if (r->shard[g][i] < 0) continue;
      const GroupWork& work = impl_->work[g][i];
      std::uint64_t ticks = work.ticks.load(std::memory_order_relaxed);
      for (const auto& shard : impl_->shards) ticks += shard->running_ticks(work, now);
      loads.push_back({{GroupId(static_cast<int>(g)), PartitionIndex(static_cast<int>(i))},
                       work.tasks.load(std::memory_order_relaxed),
                       ticks / hz});
    }
  return loads;
}

std::uint64_t LocalScheduler::tasks_done() const {
  std::uint64_t n = 0;
  for (const auto& s : impl_->shards) n += s->tasks();
  return n;
}

double LocalScheduler::busy_seconds() const {
  std::uint64_t ticks = 0;
  for (const auto& s : impl_->shards) ticks += s->body_ticks();
  return ticks / impl_->tsc_hz();
}

std::vector<StageProgress> LocalScheduler::stage_progress() const {
  std::vector<StageProgress> stages;
  for (std::size_t stage = 0; stage < impl_->plan.program.stages.size(); ++stage) {
    StageProgress newest{StageId(static_cast<int>(stage)), 0, -1, 0};
    for (const auto& shard : impl_->shards) newest.add(shard->stage_run(static_cast<int>(stage)));
    stages.push_back(newest);
  }
  return stages;
}

std::uint64_t LocalScheduler::forwarded() const { return impl_->router->forwarded(); }
std::uint64_t LocalScheduler::held() const { return impl_->router->held(); }
void LocalScheduler::stop(const std::string& reason) { impl_->life.fail(reason); }

Status LocalScheduler::launch(int shard, std::vector<TaskId> tasks) {
  if (shard < 0 || shard >= impl_->config.threads)
    return Status::error("a launch for a shard that does not exist");
  impl_->to_shard(shard, Launch{std::move(tasks)});
  return Status::fine();
}

void LocalScheduler::resume(int snapshot) {
  for (int shard = 0; shard < impl_->config.threads; ++shard) impl_->to_shard(shard, Resume{snapshot});
}

}  // namespace canary::rt
