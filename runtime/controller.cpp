#include "controller.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "auth.h"
#include "balancer.h"
#include "results.h"
#include "scheduler.h"
#include "snapshot.h"
#include "status.h"
#include "status_server.h"
#include "wire.h"

namespace canary::rt {

PartitionMap rebalanced(PartitionMap map, const std::vector<int>& threads_per_worker) {
  const std::vector<int>& threads = threads_per_worker;
  std::vector<int> load(threads.size(), 0);
  for (const auto& g : map.owner)
    for (int w : g)
      if (threads[w] > 0) ++load[w];
  auto per_thread = [&](std::size_t w, int extra) {
    return (load[w] + extra) / static_cast<double>(threads[w]);
  };
  auto least_loaded = [&] {
    std::size_t best = threads.size();
    for (std::size_t w = 0; w < threads.size(); ++w)
      if (threads[w] > 0 && (best == threads.size() || per_thread(w, 1) < per_thread(best, 1))) best = w;
    return best;
  };
  auto move = [&](std::size_t g, std::size_t i, std::size_t to) {
    map.owner[g][i] = static_cast<int>(to);
    ++map.version[g][i];
    ++load[to];
  };
  if (least_loaded() == threads.size()) return map;  // nobody to give anything to
  for (std::size_t g = 0; g < map.owner.size(); ++g)
    for (std::size_t i = 0; i < map.owner[g].size(); ++i)
      if (threads[map.owner[g][i]] == 0) move(g, i, least_loaded());
  for (;;) {
    std::size_t most = least_loaded(), least = most;
    for (std::size_t w = 0; w < threads.size(); ++w)
      if (threads[w] > 0 && per_thread(w, 0) > per_thread(most, 0)) most = w;
    if (per_thread(least, 1) >= per_thread(most, 0)) return map;  // moving one would not even them out
    for (std::size_t g = map.owner.size(); g-- > 0;) {
      auto it = std::find(map.owner[g].rbegin(), map.owner[g].rend(), static_cast<int>(most));
      if (it == map.owner[g].rend()) continue;
      --load[most];
      move(g, static_cast<std::size_t>(map.owner[g].rend() - it - 1), least);
      break;
    }
  }
}

namespace {

// Deals each group's partitions, one at a time, to the worker whose threads
// would be least loaded with one more.
std::vector<std::vector<int>> balance_partitions(const std::vector<int>& group_partitions,
                                                 const std::vector<int>& threads_per_worker) {
  std::vector<std::vector<int>> owner;
  std::vector<double> load(threads_per_worker.size(), 0);
  for (int n : group_partitions) {
    std::vector<int>& g = owner.emplace_back();
    for (int i = 0; i < n; ++i) {
      std::size_t best = 0;
      for (std::size_t w = 1; w < load.size(); ++w)
        if ((load[w] + 1) / threads_per_worker[w] < (load[best] + 1) / threads_per_worker[best]) best = w;
      load[best] += 1;
      g.push_back(static_cast<int>(best));
    }
  }
  return owner;
}

}  // namespace

PartitionMap initial_map(const Program& program, const void* params,
                         const std::vector<int>& threads_per_worker) {
  std::vector<int> dataset_partitions, loops, group_partitions;
  program.evaluate_counts(params, dataset_partitions, loops);
  for (std::size_t d = 0; d < program.datasets.size(); ++d) {
    int g = program.group_of[d];
    if (static_cast<int>(group_partitions.size()) <= g) group_partitions.resize(g + 1, 0);
    group_partitions[g] = std::max(dataset_partitions[d], 0);  // a bad count is refused by the scheduler
  }
  PartitionMap map;
  map.owner = balance_partitions(group_partitions, threads_per_worker);
  for (const auto& g : map.owner) map.version.emplace_back(g.size(), 1);
  return map;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct WorkerInfo {
  std::string identity;  // its ROUTER routing id
  std::string data_endpoint;
  int threads = 1;
  double slowdown = 1;  // as the worker said when it registered
  int pid = 0;          // as the worker said: meaningful for workers this controller started
  Clock::time_point last_seen;
  bool done = false;                  // it reported Done and nothing migrated to it since
  bool joining = false;               // it registered while the job ran, and waits for the next snapshot
  bool lost = false;                  // it stopped answering: it holds nothing and hears nothing
  WorkerSummary summary;              // tasks from its load reports, the rest from Done
  RateMeter rate;                     // from its load reports
  std::vector<StageProgress> stages;  // the newest load report's

  // It takes part in the job: it holds partitions (or may be given some).
  bool running() const { return !lost && !joining; }
};

class Controller {
 public:
  Controller(const Program& program, const void* params, const ControllerOptions& options)
      : program_(program),
        params_(params),
        options_(options),
        outputs_(program),
        chaos_(options.chaos_seed),
        progress_(!options.quiet, options.progress_every_s) {
    std::vector<int> dataset_partitions;
    program.evaluate_counts(params, dataset_partitions, loop_counts_);
    tasks_per_run_ = tasks_per_run(program, dataset_partitions);
  }

  int run() {
    socket_.set(zmq::sockopt::router_mandatory, 1);
    socket_.set(zmq::sockopt::sndtimeo, 1000);
    socket_.set(zmq::sockopt::linger, 1000);
    socket_.set(zmq::sockopt::maxmsgsize, max_frame_bytes(kControlPieceBytes));
    if (options_.credentials) {
      authenticator_.emplace(context_, *options_.credentials, "controller");
      options_.credentials->serve(socket_);
      refusals_.emplace(socket_, "controller");
    } else if (!is_loopback_endpoint(options_.listen) && !options_.insecure) {
      return fail(
          "refusing to listen on " + options_.listen +
          " without --keys: anyone who reaches it could join the job or feed it data. Give --keys DIR "
          "(make them with `" +
          program_.job + " keygen DIR`), or --insecure on a network you trust");
    }
    socket_.bind(options_.listen);
    if (!options_.http.empty()) {
      std::string error;
      http_ = StatusServer::start(options_.http, program_.graph_json, error);
      if (!http_) return fail(error);
      log() << "controller: watch the job at " << http_->url() << "\n";
    }
    if (!options_.snapshot_dir.empty()) {
      std::string dir, error = SnapshotStore::create_run_dir(options_.snapshot_dir, program_.job, dir);
      if (!error.empty()) return fail(error);
      store_.emplace(dir, program_.job);
    }
    if (options_.on_bound) options_.on_bound(socket_.get(zmq::sockopt::last_endpoint));
    started_ = Clock::now();

    // Step 1: wait for --expect workers.
    std::string error = await_workers();
    if (!error.empty()) return fail(error);
    // Step 2: the partition map, then start everyone.
    start_workers();
    // Step 3: listen until every worker is done.
    error = await_done();
    if (!error.empty()) return fail(error);
    return finish();
  }

 private:
  // Receives one envelope from a worker, if any arrives within `wait`.
  template <class Handle>
  void poll(std::chrono::milliseconds wait, Handle&& handle) {
    if (refusals_) refusals_->poll();
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    if (!(item.revents & ZMQ_POLLIN)) return;
    zmq::message_t frame;
    std::string who;
    if (!receive_frames(socket_, frame, dropped_, &who)) return;
    std::string bad = with_envelope(frame, [&](wire::Envelope::Reader e) { handle(who, e); });
    if (!bad.empty()) dropped_.about(bad);
  }

  void send(const std::string& identity, capnp::MessageBuilder& message) {
    Frames frames = to_frames(message, kControlPieceBytes);
    (void)send_frames(socket_, frames, &identity);  // a peer that is gone: its silence will say so
  }

  // Sends to every worker that takes part: neither lost nor waiting to join.
  void send_to_running(capnp::MessageBuilder& message) {
    for (const WorkerInfo& w : workers_)
      if (w.running()) send(w.identity, message);
  }

  int worker_of(const std::string& identity) const {
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (workers_[w].identity == identity) return static_cast<int>(w);
    return -1;
  }

  // Takes a registration; returns whether the worker is new. One of another
  // job is refused, and so is a latecomer when it could never join.
  bool admit(const std::string& who, wire::Register::Reader r, bool late) {
    std::string refusal;
    if (r.getJob() != program_.job) {
      refusal =
          std::string("this controller runs job '") + program_.job + "', not '" + r.getJob().cStr() + "'";
    } else if (late && !store_) {
      refusal = "the job is running, and without --snapshot-dir a worker cannot join it";
    }
    if (!refusal.empty()) {
      capnp::MallocMessageBuilder message;
      message.initRoot<wire::Envelope>().initShutdown().setReason(refusal);
      send(who, message);
      return false;
    }
    if (worker_of(who) >= 0) return false;  // a repeated registration
    WorkerInfo& w = workers_.emplace_back();
    w.identity = who;
    w.data_endpoint = r.getDataEndpoint();
    w.threads = static_cast<int>(std::max(1u, std::min(r.getThreads(), 1024u)));
    w.slowdown = r.getSlowdown();
    w.pid = static_cast<int>(std::min(r.getPid(), static_cast<std::uint32_t>(INT32_MAX)));
    w.last_seen = Clock::now();
    w.joining = late;
    return true;
  }

  std::string await_workers() {
    while (static_cast<int>(workers_.size()) < options_.expect) {
      if (seconds_since(started_) > options_.timeout_s)
        return std::to_string(workers_.size()) + " of " + std::to_string(options_.expect) +
               " workers registered within " + std::to_string(static_cast<int>(options_.timeout_s)) +
               " s; start the others with `" + program_.job +
               " worker --controller ENDPOINT`, or give --timeout";
      std::vector<std::pair<int, std::string>> exited;
      if (options_.exited) exited = options_.exited();
      if (!exited.empty())
        return "worker process " + std::to_string(exited[0].first) + " " + exited[0].second +
               " before the job started";
      publish("waiting");
      poll(std::chrono::milliseconds(100), [&](const std::string& who, wire::Envelope::Reader e) {
        if (e.isRegister()) admit(who, e.getRegister(), false);
      });
    }
    return "";
  }

  void start_workers() {
    std::vector<int> threads;
    for (const WorkerInfo& w : workers_) threads.push_back(w.threads);
    map_ = initial_map(program_, params_, threads);
    for (std::size_t g = 0; g < map_.owner.size(); ++g)
      for (std::size_t i = 0; i < map_.owner[g].size(); ++i)
        all_partitions_.emplace_back(static_cast<int>(g), static_cast<int>(i));
    balancer_.emplace(threads);
    for (std::size_t w = 0; w < workers_.size(); ++w)
      send_start(w, static_cast<int>(w) == options_.stale_map_worker ? stale_map(w) : map_);
    log() << "controller: started " << workers_.size() << " worker(s)"
          << (store_ ? ", snapshots in " + store_->dir() : "") << "\n";
    running_since_ = Clock::now();
  }

  // Step 2, and recovery step 2: the map, the peers, and where to start.
  void send_start(std::size_t worker, const PartitionMap& map) {
    capnp::MallocMessageBuilder message;
    auto s = message.initRoot<wire::Envelope>().initStart();
    s.setWorker(static_cast<unsigned>(worker));
    auto params = s.initParams(options_.params.size());
    for (std::size_t i = 0; i < options_.params.size(); ++i) params.set(i, options_.params[i]);
    auto peers = s.initPeers(workers_.size());
    for (std::size_t p = 0; p < workers_.size(); ++p)
      peers.set(p, workers_[p].lost ? "" : workers_[p].data_endpoint);
    encode_map(map, s.initMap(map_entries(map)));
    s.setEpoch(epoch_);
    if (store_) {
      s.setSnapshotDir(store_->dir());
      s.setSnapshotEvery(static_cast<std::uint32_t>(options_.snapshot_every));
      s.setStartAt(static_cast<std::uint32_t>(start_at_));
    }
    s.setCentralDispatch(options_.central_dispatch);
    send(workers_[worker].identity, message);
  }

  // The real map, but every partition of another worker placed on yet
  // another one (when there is one), at version 0.
  PartitionMap stale_map(std::size_t worker) {
    stale_ = map_;
    std::size_t n = workers_.size();
    for (std::size_t g = 0; g < stale_.owner.size(); ++g)
      for (std::size_t i = 0; i < stale_.owner[g].size(); ++i) {
        int& w = stale_.owner[g][i];
        stale_.version[g][i] = 0;
        if (static_cast<std::size_t>(w) == worker || n < 3) continue;
        do {
          w = static_cast<int>((w + 1) % n);
        } while (static_cast<std::size_t>(w) == worker);
      }
    return stale_;
  }

  void send_map_update(std::size_t worker) {
    capnp::MallocMessageBuilder message;
    encode_map(map_, message.initRoot<wire::Envelope>().initMapUpdate().initMap(map_entries(map_)));
    send(workers_[worker].identity, message);
  }

  std::string await_done() {
    Clock::time_point last_heartbeat = Clock::now();
    bool stale_fixed = options_.stale_map_worker < 0;
    Clock::time_point last_chaos = Clock::now(), last_balance = Clock::now();
    while (failure_.empty()) {
      bool all_done = !moving_;
      for (const WorkerInfo& w : workers_) all_done &= w.done || !w.running();
      if (all_done) return "";
      bool may_move = !moving_ && written_.empty();  // not while a snapshot is being written
      if (options_.chaos_migrate_ms > 0 && may_move &&
          seconds_since(last_chaos) * 1000 >= options_.chaos_migrate_ms) {
        chaos_migration();
        last_chaos = Clock::now();
      }
      if (options_.balance && may_move && seconds_since(last_balance) >= kBalanceSeconds) {
        if (auto move = balancer_->decide()) migrate(move->group, move->partition, move->to);
        last_balance = Clock::now();
      }
      if (seconds_since(last_heartbeat) > 0.5) {
        capnp::MallocMessageBuilder message;
        message.initRoot<wire::Envelope>().initHeartbeat().setWorker(0);
        send_to_running(message);
        last_heartbeat = Clock::now();
      }
      find_lost_workers();
      publish("running");
      if (!stale_fixed && seconds_since(running_since_) * 1000 > options_.stale_map_ms &&
          options_.stale_map_worker < static_cast<int>(workers_.size())) {
        send_map_update(options_.stale_map_worker);
        stale_fixed = true;
      }
      int wait_ms = options_.chaos_migrate_ms > 0 ? std::min(options_.chaos_migrate_ms, 100) : 100;
      poll(std::chrono::milliseconds(wait_ms),
           [&](const std::string& who, wire::Envelope::Reader e) { handle(who, e); });
    }
    return failure_;
  }

  void handle(const std::string& who, wire::Envelope::Reader e) {
    int w = worker_of(who);
    if (w < 0) {
      if (e.isRegister() && admit(who, e.getRegister(), true))
        log() << "controller: worker " << workers_.size() - 1 << " (" << workers_.back().data_endpoint
              << ") registered while the job runs; it joins at the next snapshot\n";
      return;
    }
    WorkerInfo& info = workers_[w];
    if (info.lost) return;  // it was given up on: what it says now is of an older epoch
    info.last_seen = Clock::now();
    if (e.isFailure()) failure_ = "worker " + std::to_string(w) + ": " + e.getFailure().getMessage().cStr();
    if (e.isRestarted() && e.getRestarted().getEpoch() == epoch_ && e.getRestarted().getError().size() > 0)
      refused_snapshot(w, e.getRestarted().getError());
    // What follows is of one epoch; of an older one it is void.
    auto current = [&](auto reader) { return reader.getEpoch() == epoch_; };
    if (e.isLoadReport() && current(e.getLoadReport())) load_report(w, e.getLoadReport());
    if (e.isMigrated() && current(e.getMigrated())) migrated(w, e.getMigrated());
    if (e.isSnapshotWritten() && current(e.getSnapshotWritten())) snapshot_written(e.getSnapshotWritten());
    if (e.isTaskReport() && options_.central_dispatch) dispatch(w, e.getTaskReport());
    if (e.isDone() && current(e.getDone())) {  // again after a migration brought it more
      auto d = e.getDone();
      info.done = true;
      info.summary = {d.getTasks(),     d.getSchedulerCpuS(), d.getTaskCpuS(),
                      d.getForwarded(), d.getHeld(),          d.getProcessCpuS()};
      add_outputs(d.getOutputs());
    }
  }

  void add_outputs(capnp::List<wire::Output>::Reader outputs) {
    for (auto o : outputs) {
      if (o.getStage() >= program_.stages.size()) continue;
      outputs_.add(o.getSeq(), o.getStage(), o.getIndex(), o.getKey(), o.getJson());
    }
  }

  void load_report(int worker, wire::LoadReport::Reader r) {
    WorkerInfo& info = workers_[worker];
    info.summary.tasks = r.getTasks();
    info.rate.add(seconds_since(started_), r.getTasks(), r.getBusySeconds(), r.getIdleSeconds());
    info.stages.clear();
    for (auto st : r.getStages())
      info.stages.push_back({static_cast<int>(std::min(st.getStage(), 1u << 30)), st.getRun(),
                             st.getIteration(), static_cast<int>(std::min(st.getDone(), 1u << 30))});
    std::map<GroupKey, GroupWork> groups;
    for (auto g : r.getGroups())
      if (g.getGroup() < map_.owner.size() && g.getPartition() < map_.owner[g.getGroup()].size())
        groups[{static_cast<int>(g.getGroup()), static_cast<int>(g.getPartition())}] = {g.getTasks(),
                                                                                        g.getCpuSeconds()};
    balancer_->report(worker, seconds_since(started_), std::move(groups));
  }

  // Migration, step 1: the map entry names the destination at a new
  // version; the source is told to hand the group over, everyone else gets
  // the new map. One migration at a time: the next waits for step 5.
  void migrate(int group, int partition, int to) {
    int from = map_.owner[group][partition];
    std::uint64_t version = ++map_.version[group][partition];
    map_.owner[group][partition] = to;
    moving_ = Moving{group, partition, from, to, version};
    capnp::MallocMessageBuilder order;
    auto m = order.initRoot<wire::Envelope>().initMigrate();
    m.setGroup(group);
    m.setPartition(partition);
    m.setTo(to);
    m.setVersion(version);
    send(workers_[from].identity, order);
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (static_cast<int>(w) != from && workers_[w].running()) send_map_update(w);
  }

  // Migration, step 5: the destination has installed the group, and will
  // say Done again once it has run it to the end.
  void migrated(int worker, wire::Migrated::Reader m) {
    if (!moving_ || worker != moving_->to || m.getGroup() != static_cast<unsigned>(moving_->group) ||
        m.getPartition() != static_cast<unsigned>(moving_->partition) || m.getVersion() != moving_->version)
      return;
    workers_[worker].done = false;
    moves_.push_back({{"group", moving_->group},
                      {"partition", moving_->partition},
                      {"from", moving_->from},
                      {"to", moving_->to},
                      {"at_s", seconds_since(running_since_)}});
    moving_.reset();
    balancer_->moved();
  }

  void chaos_migration() {
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(chaos_); };
    int group = static_cast<int>(pick(map_.owner.size()));
    int partition = static_cast<int>(pick(map_.owner[group].size()));
    std::vector<int> others;  // any running worker but the one holding it
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (workers_[w].running() && static_cast<int>(w) != map_.owner[group][partition])
        others.push_back(static_cast<int>(w));
    if (!others.empty()) migrate(group, partition, others[pick(others.size())]);
  }

  // Central dispatch: what a worker's shard found ready is launched there,
  // where its partitions are, as a data-local central scheduler would.
  // Every task passes through here twice: reported ready, then finished.
  void dispatch(int worker, wire::TaskReport::Reader r) {
    auto ready = r.getReady();
    if (ready.size() == 0) return;
    capnp::MallocMessageBuilder message;
    auto l = message.initRoot<wire::Envelope>().initLaunch();
    l.setShard(r.getShard());
    auto tasks = l.initTasks(ready.size());
    for (std::size_t i = 0; i < ready.size(); ++i) {
      tasks[i].setSeq(ready[i].getSeq());
      tasks[i].setSlot(ready[i].getSlot());
    }
    send(workers_[worker].identity, message);
  }

  // Snapshots, step 3: once every partition of a snapshot is written, the
  // manifest makes it count, older ones go, and the workers go on.
  void snapshot_written(wire::SnapshotWritten::Reader r) {
    add_outputs(r.getOutputs());  // a lost worker's outputs live on here
    if (!store_) return;
    int k = static_cast<int>(std::min(r.getSnapshot(), 1u << 30));
    if (k <= completed_through_) return;  // written again after a migration: it counts already
    std::set<GroupPartition>& written = written_[k];
    for (auto p : r.getPartitions())
      if (p.getGroup() < map_.owner.size() && p.getPartition() < map_.owner[p.getGroup()].size())
        written.emplace(static_cast<int>(p.getGroup()), static_cast<int>(p.getPartition()));
    if (written.size() < all_partitions_.size()) return;
    written_.erase(k);
    std::string error = store_->mark_complete(k, all_partitions_.size());
    if (!error.empty()) {
      failure_ = "cannot complete snapshot " + std::to_string(k) + ": " + error;
      return;
    }
    complete_.push_back(k);
    completed_through_ = k;
    if (complete_.size() > kSnapshotsKept) complete_.erase(complete_.begin());
    store_->prune(complete_);
    ++snapshots_;
    last_snapshot_at_ = Clock::now();
    bool joiners = false;
    for (const WorkerInfo& w : workers_) joiners |= w.joining && !w.lost;
    if (joiners) {  // joining: a rollback to the snapshot just taken, with a map that includes them
      log() << "controller: snapshot " << k << " complete; the workers that registered meanwhile join now\n";
      restart_from(k);
      return;
    }
    capnp::MallocMessageBuilder message;
    message.initRoot<wire::Envelope>().initResume().setSnapshot(static_cast<std::uint32_t>(k));
    send_to_running(message);  // snapshots, step 4
  }
  // The newest is what a rollback loads; the one before it is where it goes
  // should the newest not check out.
  static constexpr std::size_t kSnapshotsKept = 2;

  // Recovery, step 1: a worker that missed its heartbeats, or whose process
  // this controller saw exit, is lost.
  void find_lost_workers() {
    std::vector<std::pair<int, std::string>> exited;
    if (options_.exited) exited = options_.exited();
    for (std::size_t w = 0; w < workers_.size() && failure_.empty(); ++w) {
      WorkerInfo& info = workers_[w];
      if (info.lost) continue;
      std::string how;
      for (const auto& [pid, what] : exited)
        if (pid == info.pid) how = "has gone: its process " + what;
      if (how.empty() && seconds_since(info.last_seen) > options_.heartbeat_timeout_s)
        how = "has been silent for " + std::to_string(static_cast<int>(options_.heartbeat_timeout_s)) + " s";
      if (!how.empty()) lose(w, how);
    }
  }

  void lose(std::size_t w, const std::string& how) {
    WorkerInfo& info = workers_[w];
    info.lost = true;
    std::string what = "worker " + std::to_string(w) + " (" + info.data_endpoint + ") " + how;
    if (info.joining) {  // it held nothing yet
      log() << "controller: " << what << "; it had not joined yet\n";
      return;
    }
    if (!store_) {
      failure_ = what +
                 "; without --snapshot-dir the job cannot survive losing a worker "
                 "(give the controller --snapshot-dir DIR on storage every worker reaches)";
      return;
    }
    bool survivors = false;
    for (const WorkerInfo& other : workers_) survivors |= !other.lost;
    if (!survivors) {
      failure_ = what + ", and no worker is left";
      return;
    }
    log() << "controller: " << what;
    if (moving_)
      log() << " during the migration of group " << moving_->group << " partition " << moving_->partition;
    if (!written_.empty()) log() << " during snapshot " << written_.begin()->first;
    log() << "\n";
    ++recoveries_;
    roll_back();
  }

  // Recovery, step 2: back to the newest complete snapshot whose files all
  // check out (or the start, if none does).
  void roll_back() {
    while (!complete_.empty()) {
      std::string error = store_->verify(complete_.back(), all_partitions_);
      if (error.empty()) break;
      log() << "controller: snapshot " << complete_.back() << " cannot be loaded: " << error
            << "; trying an older one\n";
      complete_.pop_back();
    }
    restart_from(complete_.empty() ? 0 : complete_.back());
  }

  // A worker could not load the snapshot it was sent back to: an older one.
  void refused_snapshot(int worker, const std::string& error) {
    log() << "controller: worker " << worker << " could not start over: " << error << "\n";
    if (start_at_ == 0) {
      failure_ = "worker " + std::to_string(worker) + " could not start over: " + error;
      return;
    }
    complete_.erase(std::remove(complete_.begin(), complete_.end(), start_at_), complete_.end());
    roll_back();
  }

  // Recovery, step 2, and joining: a new epoch, the lost workers' partitions
  // (and a share for those joining) spread over the rest, and every worker
  // sent back to snapshot k.
  void restart_from(int k) {
    ++epoch_;
    start_at_ = completed_through_ = k;
    moving_.reset();
    written_.clear();
    std::vector<int> threads;
    for (WorkerInfo& w : workers_) {
      if (!w.lost) w.joining = false;
      w.done = false;
      w.stages.clear();  // the new epoch's reports say how far it has got
      threads.push_back(w.lost ? 0 : w.threads);
    }
    map_ = rebalanced(map_, threads);
    balancer_.emplace(threads);
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (!workers_[w].lost) send_start(w, map_);
    log() << "controller: epoch " << epoch_ << ": every worker goes back to "
          << (k ? "snapshot " + std::to_string(k) : std::string("the start")) << "\n";
  }

  // What people see (status.h), from this controller's state.
  JobStatus status(const std::string& state) const {
    JobStatus s;
    s.job = program_.job;
    s.state = state;
    s.elapsed_s = seconds_since(started_);
    s.params = options_.params;
    s.epoch = epoch_;
    s.migrations = static_cast<int>(moves_.size());
    s.recoveries = recoveries_;
    s.snapshots = snapshots_;
    s.last_snapshot = completed_through_;
    s.snapshot_age_s = seconds_since(last_snapshot_at_);
    std::vector<std::vector<StageProgress>> stages;
    for (std::size_t w = 0; w < workers_.size(); ++w) {
      const WorkerInfo& info = workers_[w];
      WorkerStatus& ws = s.workers.emplace_back();
      ws.id = static_cast<int>(w);
      ws.endpoint = info.data_endpoint;
      ws.pid = info.pid;
      ws.threads = info.threads;
      ws.state = info.lost ? "lost" : info.joining ? "joining" : info.done ? "done" : "running";
      ws.tasks = info.summary.tasks;
      s.tasks += ws.tasks;
      if (info.lost) continue;
      ws.tasks_per_s = info.rate.tasks_per_s();
      ws.busy = info.rate.busy();
      s.tasks_per_s += ws.tasks_per_s;
      ++s.workers_alive;
      stages.push_back(info.stages);
    }
    for (std::size_t g = 0; g < map_.owner.size(); ++g)
      for (std::size_t i = 0; i < map_.owner[g].size(); ++i)
        s.workers[map_.owner[g][i]].partitions.emplace_back(static_cast<int>(g), static_cast<int>(i));
    combine_stage_progress(program_, tasks_per_run_, loop_counts_, stages, s);
    return s;
  }

  // The status to the progress line and the status server: a few times a
  // second, and whenever the job ends.
  void publish(const std::string& state) {
    bool ended = state == "finished" || state == "failed";
    if (!ended && seconds_since(published_) < 0.25) return;
    published_ = Clock::now();
    JobStatus s = status(state);
    if (http_) http_->publish(status_json(s).dump(), prometheus_text(s));
    if (ended) {
      progress_.end(progress_text(s));
    } else {
      progress_.show(progress_text(s));
    }
  }

  // Anything else the controller says on stderr goes through here.
  std::ostream& log() { return progress_.log(); }

  void shutdown_all(const std::string& reason) {
    capnp::MallocMessageBuilder message;
    message.initRoot<wire::Envelope>().initShutdown().setReason(reason);
    for (const WorkerInfo& w : workers_)
      if (!w.lost) send(w.identity, message);
  }

  int fail(const std::string& error) {
    publish("failed");
    shutdown_all("the job failed: " + error);
    log() << program_.job << ": error: " << error << "\n";
    if (store_) log() << "controller: the snapshots are left in " << store_->dir() << "\n";
    return 1;
  }

  int finish() {
    publish("finished");
    shutdown_all("");
    if (store_) store_->remove_all();  // the job is done: nothing will roll back to them
    double elapsed = seconds_since(running_since_);
    std::vector<WorkerSummary> summaries;
    for (const WorkerInfo& w : workers_) summaries.push_back(w.summary);
    nlohmann::ordered_json stats = stats_json(elapsed, summaries, static_cast<int>(moves_.size()));
    stats["moves"] = moves_;
    stats["slowdown_per_worker"] = nlohmann::ordered_json::array();
    for (const WorkerInfo& w : workers_) stats["slowdown_per_worker"].push_back(w.slowdown);
    stats["snapshots"] = snapshots_;
    stats["recoveries"] = recoveries_;
    stats["lost_workers"] = nlohmann::ordered_json::array();
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (workers_[w].lost) stats["lost_workers"].push_back(w);
    // What running the job cost every process outside task bodies, per task:
    // comparable between --dispatch=local and --dispatch=central.
    timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    double controller_cpu = cpu.tv_sec + cpu.tv_nsec * 1e-9, worker_cpu = 0;
    for (const WorkerInfo& w : workers_) worker_cpu += w.summary.process_cpu_s;
    double tasks = stats["tasks"].get<double>(), task_cpu = stats["task_cpu_s"].get<double>();
    stats["dispatch"] = options_.central_dispatch ? "central" : "local";
    stats["controller_cpu_s"] = controller_cpu;
    stats["worker_process_cpu_s"] = worker_cpu;
    stats["overhead_ns_per_task"] = tasks > 0 ? (controller_cpu + worker_cpu - task_cpu) * 1e9 / tasks : 0.0;
    return report_results(program_, outputs_, stats, options_.results, elapsed, stats["tasks"],
                          std::to_string(workers_.size()) + " worker(s)");
  }

  const Program& program_;
  const void* params_;
  ControllerOptions options_;
  Outputs outputs_;
  zmq::context_t context_;
  std::optional<Authenticator> authenticator_;  // with credentials
  zmq::socket_t socket_{context_, zmq::socket_type::router};
  std::optional<RefusalLog> refusals_;  // with --keys
  std::vector<WorkerInfo> workers_;
  PartitionMap map_, stale_;
  std::vector<GroupPartition> all_partitions_;
  struct Moving {
    int group, partition, from, to;
    std::uint64_t version;
  };
  std::optional<Moving> moving_;                                    // the migration under way
  nlohmann::ordered_json moves_ = nlohmann::ordered_json::array();  // those done
  std::optional<Balancer> balancer_;
  static constexpr double kBalanceSeconds = 0.2;
  std::mt19937 chaos_;
  std::optional<SnapshotStore> store_;
  std::map<int, std::set<GroupPartition>> written_;  // snapshots under way: what is written of each
  std::vector<int> complete_;                        // the complete snapshots kept, oldest first
  std::uint64_t epoch_ = 0;                          // goes up with every rollback
  int start_at_ = 0;                                 // the snapshot this epoch started from
  int completed_through_ = 0;                        // the newest snapshot complete in this epoch
  int snapshots_ = 0;
  int recoveries_ = 0;
  std::string failure_;
  Clock::time_point started_, running_since_;
  DropLog dropped_{"controller"};
  // For people watching.
  std::vector<int> tasks_per_run_;
  std::vector<int> loop_counts_;  // per block
  Clock::time_point last_snapshot_at_, published_;
  ProgressLine progress_;
  std::unique_ptr<StatusServer> http_;
};

}  // namespace

int run_controller(const Program& program, const void* params, const ControllerOptions& options) {
  try {
    return Controller(program, params, options).run();
  } catch (const std::exception& e) {
    std::cerr << program.job << ": error: controller: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace canary::rt
