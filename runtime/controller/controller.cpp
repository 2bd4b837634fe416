#include "controller/controller.h"

#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>
#include <set>

#include "controller/autosize.h"
#include "controller/balancer.h"
#include "controller/status.h"
#include "controller/status_server.h"
#include "core/clock.h"
#include "core/results.h"
#include "io/files.h"
#include "scheduler/plan.h"
#include "store/snapshot.h"
#include "wire/auth.h"
#include "wire/codec.h"

namespace canary::rt {

namespace {

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
  // From its load reports: this epoch, each partition group's newest
  // figures here (kept after it moves away); and the scheduler's CPU time,
  // which, like its tasks, counts on across epochs.
  std::map<GroupPartition, Load> group_loads;
  double scheduler_s = 0;

  // It takes part in the job: it holds partitions (or may be given some).
  bool running() const { return !lost && !joining; }
};

class Controller {
 public:
  Controller(const Program& program, void* params, const ControllerOptions& options)
      : program_(program),
        params_(params),
        options_(options),
        outputs_(program),
        chaos_(options.chaos_seed),
        progress_(!options.quiet, options.progress_every_s) {
    std::vector<int> dataset_partitions;
    program.counts(params, dataset_partitions, loop_counts_);
    tasks_per_run_ = tasks_per_run(program, dataset_partitions);
  }

  int run() {
    socket_.set(zmq::sockopt::router_mandatory, 1);
    socket_.set(zmq::sockopt::sndtimeo, 1000);
    socket_.set(zmq::sockopt::linger, 1000);
    socket_.set(zmq::sockopt::maxmsgsize, max_frame_bytes(kControlPieceBytes));
    admit_only_zmtp3_peers(socket_);
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
      Result<std::unique_ptr<StatusServer>> started = StatusServer::start(options_.http, program_.graph_json);
      if (!started.ok()) return fail(started.why());
      http_ = std::move(started).value();
      log() << "controller: watch the job at " << http_->url() << "\n";
    }
    if (!options_.resume.empty()) {
      store_.emplace(options_.resume, program_.job);
    } else if (!options_.snapshot_dir.empty()) {
      Result<std::string> dir = SnapshotStore::create_run_dir(options_.snapshot_dir, program_.job);
      if (!dir.ok()) return fail(dir.why());
      store_.emplace(dir.value(), program_.job);
    }
    if (store_) {
      Result<RunLock> lock = RunLock::take(store_->dir());
      if (!lock.ok()) return fail(lock.why());
      run_lock_.emplace(std::move(lock).value());
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
  // Receives one message from a worker, if any arrives within `wait`.
  template <class Handle>
  void poll(std::chrono::milliseconds wait, Handle&& handle) {
    if (refusals_) refusals_->poll();
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    if (!(item.revents & ZMQ_POLLIN)) return;
    Received frame;
    std::string who;
    if (!receive_frames(socket_, frame, dropped_, &who)) return;
    Result<Envelope> e = decode(frame, {program_, workers_.size()});
    if (e.ok()) {
      handle(who, e.value());
    } else {
      dropped_.about(e.why());
    }
  }

  template <class Message>
  void send(const std::string& identity, const Message& m) {
    Frames frames = encode(m);
    (void)send_frames(socket_, frames, &identity);  // a peer that is gone: its silence will say so
  }

  // Sends to every worker that takes part: neither lost nor waiting to join.
  template <class Message>
  void send_to_running(const Message& m) {
    for (const WorkerInfo& w : workers_)
      if (w.running()) send(w.identity, m);
  }

  int worker_of(const std::string& identity) const {
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (workers_[w].identity == identity) return static_cast<int>(w);
    return -1;
  }

  // Takes a registration; returns whether the worker is new. One of another
  // job is refused, and so is a latecomer when it could never join.
  bool admit(const std::string& who, const msg::Register& r, bool late) {
    std::string refusal;
    if (r.job != program_.job) {
      refusal = "this controller runs job '" + program_.job + "', not '" + r.job + "'";
    } else if (late && !store_) {
      refusal = "the job is running, and without --snapshot-dir a worker cannot join it";
    }
    if (!refusal.empty()) {
      send(who, msg::Shutdown{refusal});
      return false;
    }
    if (worker_of(who) >= 0) return false;  // a repeated registration
    WorkerInfo& w = workers_.emplace_back();
    w.identity = who;
    w.data_endpoint = r.data_endpoint;
    w.threads = r.threads;
    w.slowdown = r.slowdown;
    w.pid = r.pid;
    w.summary.cpus = r.cpus;
    w.summary.numa_node = r.numa_node;
    w.last_seen = Clock::now();
    w.joining = late;
    if (r.next_epoch > epoch_ && !late) epoch_ = r.next_epoch;  // a worker taken back (--resume)
    return true;
  }

  std::string await_workers() {
    int expect = options_.expect;
    // The workers of a run this controller resumes register again only once
    // they find the old one silent for their own --timeout: a controller
    // started again at once, with the same --timeout, would give up just as
    // they begin to. So it waits for theirs too (the default, and the second
    // between their registrations).
    constexpr double kWorkersNoticeS = 30 + 2;
    double wait_s = options_.timeout_s + (options_.resume.empty() ? 0 : kWorkersNoticeS);
    while (registered() < expect) {
      if (seconds_since(started_) > wait_s)
        return std::to_string(registered()) + " of " + std::to_string(expect) +
               " workers registered within " + std::to_string(static_cast<int>(wait_s)) +
               " s; start the others with `" + program_.job +
               " worker --controller ENDPOINT`, or give --timeout" +
               (options_.resume.empty() ? ""
                                        : " (a run's workers register again once the old controller has "
                                          "been silent their --timeout; if theirs is over 30 s, give this "
                                          "one a --timeout as long)");
      std::vector<std::pair<int, std::string>> exited;
      if (options_.exited) exited = options_.exited();
      for (const auto& [pid, how] : exited) {
        std::string what = "worker process " + std::to_string(pid) + " " + how + " before the job started";
        // Without snapshots a loss fails the job; with them, one before the
        // start is a loss like any other: the job starts without it.
        if (!store_) return what;
        if (--expect == 0) return what + ", and no worker is left";
        for (WorkerInfo& w : workers_) w.lost |= w.pid == pid;
        log() << "controller: " << what << "; starting on the " << expect << " others\n";
      }
      publish("waiting");
      poll(std::chrono::milliseconds(100), [&](const std::string& who, const Envelope& e) {
        if (auto* r = std::get_if<msg::Register>(&e)) admit(who, *r, false);
      });
    }
    return "";
  }

  int registered() const {
    return static_cast<int>(
        std::count_if(workers_.begin(), workers_.end(), [](const WorkerInfo& w) { return !w.lost; }));
  }

  void start_workers() {
    std::vector<int> threads = threads_per_worker();
    // canary::automatic: the count follows from the threads that came.
    Settled settled = settle_automatic(program_, params_, std::accumulate(threads.begin(), threads.end(), 0),
                                       options_.params);
    if (!settled.line.empty()) log() << "controller: " << settled.line << "\n";
    may_rechoose_ = settled.chosen;
    lay_out(threads);
    balancer_.emplace(threads);
    if (!options_.resume.empty()) {
      resume_from_newest();
    } else {
      record_run();
    }
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (!workers_[w].lost)
        send_start(w, static_cast<int>(w) == options_.stale_map_worker ? stale_map(w) : map_);
    log() << "controller: the job runs on " << registered() << " worker(s)"
          << (store_ ? ", snapshots in " + store_->dir() : "") << "\n";
    running_since_ = Clock::now();
  }

  // With snapshots: what --resume needs to run the job again as it runs.
  void record_run() {
    if (!store_) return;
    Status recorded = store_->write_run(
        {program_.job, detail::fnv1a64(program_.graph_json), options_.params, options_.snapshot_every});
    if (!recorded.ok()) failure_ = "cannot record the run for --resume: " + recorded.why();
  }

  // Each worker's compute threads; none for a lost one.
  std::vector<int> threads_per_worker() const {
    std::vector<int> threads;
    for (const WorkerInfo& w : workers_) threads.push_back(w.lost ? 0 : w.threads);
    return threads;
  }

  // What the partition counts decide: the map, the partitions a snapshot
  // holds and the progress line's task counts.
  void lay_out(const std::vector<int>& threads) {
    std::vector<int> dataset_partitions;
    program_.counts(params_, dataset_partitions, loop_counts_);
    tasks_per_run_ = tasks_per_run(program_, dataset_partitions);
    map_ = initial_map(program_, params_, threads);
    all_partitions_.clear();
    for (std::size_t g = 0; g < map_.owner.size(); ++g)
      for (std::size_t i = 0; i < map_.owner[g].size(); ++i)
        all_partitions_.push_back({GroupId(static_cast<int>(g)), PartitionIndex(static_cast<int>(i))});
  }

  // Step 2, and recovery step 2: the map, the peers, and where to start.
  void send_start(std::size_t worker, const PartitionMap& map) {
    msg::Start s;
    s.worker = WorkerId(static_cast<int>(worker));
    s.params = options_.params;
    for (const WorkerInfo& w : workers_) s.peers.push_back(w.lost ? "" : w.data_endpoint);
    s.map = map;
    s.epoch = epoch_;
    if (store_) {
      s.snapshot_dir = store_->dir();
      s.snapshot_every = options_.snapshot_every;
      s.start_at = start_at_;
    }
    s.central_dispatch = options_.central_dispatch;
    send(workers_[worker].identity, s);
  }

  // The real map, but every partition of another worker placed on yet
  // another one (when there is one), at version 0.
  PartitionMap stale_map(std::size_t worker) {
    stale_ = map_;
    std::size_t n = workers_.size();
    for (std::size_t g = 0; g < stale_.owner.size(); ++g)
      for (std::size_t i = 0; i < stale_.owner[g].size(); ++i) {
        std::size_t w = stale_.owner[g][i].value();
        stale_.version[g][i] = Version(0);
        if (w == worker || n < 3) continue;
        do {
          w = (w + 1) % n;
        } while (w == worker);
        stale_.owner[g][i] = WorkerId(static_cast<int>(w));
      }
    return stale_;
  }

  void send_map_update(std::size_t worker) { send(workers_[worker].identity, msg::MapUpdate{map_}); }

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
      if (may_move) {
        bool balance_tick = seconds_since(last_balance) >= kBalanceSeconds;
        if (balance_tick && may_rechoose_) rechoose();
        // The rest of a decision goes as soon as the move before it is done.
        if (options_.balance && (balance_tick || balancer_->moves_pending()))
          // A move decided with others may find its group moved already.
          if (auto move = balancer_->decide(); move && map_.owner_of(move->which) == move->from)
            migrate(move->which, move->to);
        if (balance_tick) last_balance = Clock::now();
      }
      if (seconds_since(last_heartbeat) > 0.5) {
        send_to_running(msg::Heartbeat{WorkerId(0)});
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
           [&](const std::string& who, const Envelope& e) { handle(who, e); });
    }
    return failure_;
  }

  void handle(const std::string& who, const Envelope& e) {
    int w = worker_of(who);
    if (w < 0) {
      auto* r = std::get_if<msg::Register>(&e);
      if (r && admit(who, *r, true))
        log() << "controller: worker " << workers_.size() - 1 << " (" << workers_.back().data_endpoint
              << ") registered while the job runs; it joins at the next snapshot\n";
      return;
    }
    WorkerInfo& info = workers_[w];
    if (info.lost) return;  // it was given up on: what it says now is of an older epoch
    info.last_seen = Clock::now();
    // What carries an epoch is of one epoch; of an older one it is void.
    auto current = [&](const auto* m) { return m && m->epoch == epoch_; };
    if (auto* f = std::get_if<msg::Failure>(&e)) failure_ = "worker " + std::to_string(w) + ": " + f->message;
    if (auto* r = std::get_if<msg::Restarted>(&e); current(r) && !r->error.empty())
      refused_snapshot(w, r->error);
    if (auto* r = std::get_if<msg::LoadReport>(&e); current(r)) load_report(w, *r);
    if (auto* m = std::get_if<msg::Migrated>(&e); current(m)) migrated(w, *m);
    if (auto* s = std::get_if<msg::SnapshotWritten>(&e); current(s)) snapshot_written(*s);
    if (auto* t = std::get_if<msg::TaskReport>(&e); t && options_.central_dispatch) dispatch(w, *t);
    if (auto* d = std::get_if<msg::Done>(&e); current(d)) {  // again after a migration brought it more
      info.done = true;
      info.summary = {d->tasks,  d->scheduler_cpu_s, d->task_cpu_s,     d->forwarded,          d->held,
                      d->unused, d->process_cpu_s,   info.summary.cpus, info.summary.numa_node};
      add_outputs(d->outputs);
    }
  }

  void add_outputs(const std::vector<Outputs::Entry>& outputs) {
    for (const Outputs::Entry& o : outputs) outputs_.add(o);
  }

  void load_report(int worker, const msg::LoadReport& r) {
    WorkerInfo& info = workers_[worker];
    info.summary.tasks = r.tasks;
    info.rate.add(seconds_since(started_), r.tasks, r.busy_s, r.idle_s);
    info.stages = r.stages;
    std::map<GroupPartition, Load> groups;
    for (const GroupLoad& g : r.groups)
      if (g.which.group.value() < map_.groups() && g.which.partition.value() < map_.partitions(g.which.group))
        groups[g.which] = info.group_loads[g.which] = {g.tasks, g.cpu_s};
    info.scheduler_s = r.scheduler_s;
    balancer_->report(WorkerId(worker), seconds_since(started_), std::move(groups));
  }

  // Migration, step 1: the map entry names the destination at a new
  // version; the source is told to hand the group over, everyone else gets
  // the new map. One migration at a time: the next waits for step 5.
  void migrate(GroupPartition which, WorkerId to) {
    int g = which.group.value(), i = which.partition.value();
    WorkerId from = map_.owner[g][i];
    Version version(map_.version[g][i].value() + 1);
    map_.version[g][i] = version;
    map_.owner[g][i] = to;
    moving_ = Moving{which, from, to, version};
    send(workers_[from.value()].identity, msg::Migrate{which, to, version});
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (WorkerId(static_cast<int>(w)) != from && workers_[w].running()) send_map_update(w);
  }

  // Migration, step 5: the destination has installed the group, and will
  // say Done again once it has run it to the end.
  void migrated(int worker, const msg::Migrated& m) {
    if (!moving_ || WorkerId(worker) != moving_->to || m.which != moving_->which ||
        m.version != moving_->version)
      return;
    workers_[worker].done = false;
    moves_.push_back({{"group", moving_->which.group.value()},
                      {"partition", moving_->which.partition.value()},
                      {"from", moving_->from.value()},
                      {"to", moving_->to.value()},
                      {"at_s", seconds_since(running_since_)}});
    moving_.reset();
    balancer_->moved();
  }

  // canary::automatic, the second choice: once the loop has run a few
  // iterations at the first count, the times its tasks took may predict a
  // faster one that pays for going back to the start (rechoose_partitions).
  // Once at most, and never once a snapshot counts: it holds the old count.
  void rechoose() {
    if (!complete_.empty() || snapshots_ > 0) return;
    JobStatus s = status("running");
    if (s.loop < 0) return;
    double now = seconds_since(running_since_);
    if (!loop_seen_ || loop_seen_->loop != s.loop) {  // what came before the loop says little of it
      loop_seen_ = LoopSeen{s.loop, s.iteration, now, automatic_loads()};
      return;
    }
    if (s.iteration - loop_seen_->iteration < kRechooseAfterIterations) return;
    std::optional<AutosizeMeasure> measured = measure_loop(s, now);
    if (!measured) return;  // not every partition has reported yet
    may_rechoose_ = false;  // whatever the measures say now, the first count stays or goes once
    if (std::optional<AutosizeChoice> choice = rechoose_partitions(*measured))
      start_over_with(*choice, static_cast<int>(measured->partition_cpu_s.size()));
  }

  // What rechoose_partitions weighs, from the load reports since the loop
  // was first seen. Each partition's time is its CPU time per task times the
  // average partition's tasks: the workers report at different moments, so
  // their totals do not cover the same span.
  std::optional<AutosizeMeasure> measure_loop(const JobStatus& s, double now) const {
    AutomaticLoads loads = automatic_loads();
    const AutomaticLoads& before = loop_seen_->loads;
    std::size_t partitions = loads.partitions.size();
    if (partitions == 0 || before.partitions.size() != partitions) return std::nullopt;
    std::vector<Load> since(partitions);
    AutosizeMeasure m;
    for (std::size_t i = 0; i < partitions; ++i) {
      since[i] = {loads.partitions[i].tasks - before.partitions[i].tasks,
                  loads.partitions[i].cpu_s - before.partitions[i].cpu_s};
      if (since[i].tasks == 0 || since[i].cpu_s <= 0) return std::nullopt;
      m.tasks += since[i].tasks;
    }
    double mean_tasks = static_cast<double>(m.tasks) / partitions;
    for (const Load& l : since) m.partition_cpu_s.push_back(l.cpu_s / l.tasks * mean_tasks);
    m.threads = loads.threads;
    m.exchanges = exchanges_automatic(program_);
    // The scheduler's cost per task is over every task; the tasks whose
    // number follows the count (m.tasks) are the automatic partitions'.
    std::uint64_t tasks = loads.tasks - before.tasks;
    m.overhead_s_per_task = tasks ? std::max(0.0, loads.scheduler_s - before.scheduler_s) / tasks : 0;
    m.elapsed_s = now;
    // A loop of unknown length (while) is taken to run as long again.
    double loop_s = now - loop_seen_->at_s;
    m.window_s = loop_s;
    int iterations = s.iteration - loop_seen_->iteration;
    m.remaining_s = s.iterations > 0 ? loop_s / iterations * (s.iterations - s.iteration) : loop_s;
    return m;
  }

  // Going back to the start with the count chosen again: a rollback (as
  // recovery, step 2) whose Start carries the new parameters.
  void start_over_with(const AutosizeChoice& choice, int first_count) {
    rechosen_from_ = first_count;
    set_automatic(program_, params_, choice.partitions, options_.params);
    log() << "controller: " << automatic_line(choice) << "; starting over\n";
    outputs_.clear();
    record_run();
    lay_out(threads_per_worker());
    restart_from(0);
  }

  // What the load reports say so far, summed over the workers: per
  // automatic partition, its tasks and their CPU time (in every group made
  // of automatic datasets); every task; and the scheduler's CPU time (the
  // compute threads' beyond task bodies: what a task costs the runtime).
  struct AutomaticLoads {
    int threads = 0;
    std::vector<Load> partitions;
    std::uint64_t tasks = 0;
    double scheduler_s = 0;
  };
  AutomaticLoads automatic_loads() const {
    AutomaticLoads a;
    a.partitions.resize(automatic_count());
    for (const WorkerInfo& w : workers_) {
      if (w.running()) a.threads += w.threads;
      a.tasks += w.summary.tasks;
      a.scheduler_s += w.scheduler_s;
      for (const auto& [which, load] : w.group_loads) {
        std::size_t i = which.partition.value();
        if (!automatic_group(which.group) || i >= a.partitions.size()) continue;
        a.partitions[i].tasks += load.tasks;
        a.partitions[i].cpu_s += load.cpu_s;
      }
    }
    return a;
  }

  bool automatic_group(GroupId g) const {
    for (std::size_t d = 0; d < program_.datasets.size(); ++d)
      if (program_.datasets[d].automatic && program_.group_of[d] == g.value()) return true;
    return false;
  }

  // The count canary::automatic datasets have now.
  int automatic_count() const {
    for (std::size_t d = 0; d < program_.datasets.size(); ++d)
      if (program_.datasets[d].automatic) return map_.partitions(GroupId(program_.group_of[d]));
    return 0;
  }

  void chaos_migration() {
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(chaos_); };
    GroupId group(static_cast<int>(pick(map_.owner.size())));
    PartitionIndex partition(static_cast<int>(pick(map_.partitions(group))));
    GroupPartition which{group, partition};
    std::vector<WorkerId> others;  // any running worker but the one holding it
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (workers_[w].running() && WorkerId(static_cast<int>(w)) != map_.owner_of(which))
        others.emplace_back(static_cast<int>(w));
    if (!others.empty()) migrate(which, others[pick(others.size())]);
  }

  // Central dispatch: what a worker's shard found ready is launched there,
  // where its partitions are, as a data-local central scheduler would.
  // Every task passes through here twice: reported ready, then finished.
  void dispatch(int worker, const msg::TaskReport& r) {
    if (r.ready.empty()) return;
    send(workers_[worker].identity, msg::Launch{r.shard, r.ready});
  }

  // Snapshots, step 3: once every partition of a snapshot is written, the
  // workers go on (step 4) while their files go to disk; once every one is
  // on disk, the manifest makes the snapshot count and older ones go.
  void snapshot_written(const msg::SnapshotWritten& r) {
    add_outputs(r.outputs);  // a lost worker's outputs live on here
    if (!store_) return;
    int k = r.snapshot;
    if (k <= completed_through_ || skipped_.count(k)) return;  // written again after a migration, or given up
    if (!r.error.empty())
      return skip_snapshot(k, "worker " + std::to_string(r.worker.value()) + ": " + r.error);
    std::set<GroupPartition>& reported = (r.durable ? durable_ : written_)[k];
    for (GroupPartition p : r.partitions)
      if (p.group.value() < map_.groups() && p.partition.value() < map_.partitions(p.group))
        reported.insert(p);
    if (reported.size() < all_partitions_.size()) return;
    if (r.durable) {
      durable_.erase(k);
      return complete(k);
    }
    written_.erase(k);
    // Every output made before the cut has come with these reports, and
    // none made after it yet: what the manifest keeps.
    outputs_at_[k] = outputs_.entries();
    // Joiners wait: they start from this snapshot, which must count first.
    if (!joiners()) resume(k);
  }

  void complete(int k) {
    Status completed = store_->mark_complete(k, all_partitions_.size(), outputs_at_[k]);
    outputs_at_.erase(k);
    if (!completed.ok()) return skip_snapshot(k, completed.why());
    complete_.push_back(k);
    completed_through_ = k;
    if (complete_.size() > kSnapshotsKept) complete_.erase(complete_.begin());
    store_->prune(complete_);
    ++snapshots_;
    last_snapshot_at_ = Clock::now();
    if (joiners()) {  // joining: a rollback to the snapshot just taken, with a map that includes them
      log() << "controller: snapshot " << k << " complete; the workers that registered meanwhile join now\n";
      return restart_from(k);
    }
    resume(k);  // sent already, unless joiners held it and have gone since
  }

  void resume(int k) {
    if (k <= resumed_through_) return;
    resumed_through_ = k;
    send_to_running(msg::Resume{k});  // snapshots, step 4
  }

  bool joiners() const {
    for (const WorkerInfo& w : workers_)
      if (w.joining && !w.lost) return true;
    return false;
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
      log() << " during the migration of group " << moving_->which.group.value() << " partition "
            << moving_->which.partition.value();
    if (!written_.empty()) log() << " during snapshot " << written_.begin()->first;
    log() << "\n";
    ++recoveries_;
    roll_back();
  }

  // A snapshot that cannot be written (a full or read-only disk): the job
  // goes on without it, a loss rolling back to an older one, unless the
  // user asked for every snapshot (--snapshot-required).
  void skip_snapshot(int k, const std::string& why) {
    if (options_.snapshot_required) {
      failure_ = "snapshot " + std::to_string(k) + " cannot be written (--snapshot-required): " + why;
      return;
    }
    log() << "controller: warning: snapshot " << k << " is skipped, the job goes on without it: " << why
          << (completed_through_
                  ? "; a loss would roll back to snapshot " + std::to_string(completed_through_)
                  : std::string("; a loss would roll back to the start"))
          << "\n";
    written_.erase(k);
    durable_.erase(k);
    outputs_at_.erase(k);
    skipped_.insert(k);
    ++snapshots_skipped_;
    resume(k);  // step 4 without the manifest, if not sent already
  }

  // --resume: the newest complete snapshot whose files all check out (or
  // the start, if none does), with the outputs made before its cut.
  void resume_from_newest() {
    std::vector<Outputs::Entry> outputs;
    int k = newest_loadable(store_->marked_complete(), &outputs);
    if (k == 0) {
      log() << "controller: resuming " << store_->dir() << " from the start: it holds no complete snapshot\n";
      return;
    }
    add_outputs(outputs);
    start_at_ = completed_through_ = resumed_through_ = k;
    complete_ = {k};
    log() << "controller: resuming " << store_->dir() << " from snapshot " << k << "\n";
  }

  // The first of `newest_first` whose files all check out (and, given
  // `outputs`, whose manifest's outputs read, into it), saying why of each
  // before it that does not; 0, the start, when none does.
  int newest_loadable(const std::vector<int>& newest_first, std::vector<Outputs::Entry>* outputs = nullptr) {
    for (int k : newest_first) {
      Status verified = store_->verify(k, all_partitions_);
      if (verified.ok() && outputs) {
        Result<std::vector<Outputs::Entry>> read = store_->outputs_of(k);
        if (read.ok()) {
          *outputs = std::move(read).value();
        } else {
          verified = read.status();
        }
      }
      if (verified.ok()) return k;
      log() << "controller: snapshot " << k << " cannot be loaded: " << verified.why()
            << "; trying an older one\n";
    }
    return 0;
  }

  // Recovery, step 2: back to the newest complete snapshot whose files all
  // check out (or the start, if none does).
  void roll_back() {
    int k = newest_loadable(std::vector<int>(complete_.rbegin(), complete_.rend()));
    while (!complete_.empty() && complete_.back() != k) complete_.pop_back();
    restart_from(k);
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
    epoch_ = Epoch(epoch_.value() + 1);
    start_at_ = completed_through_ = resumed_through_ = k;
    moving_.reset();
    written_.clear();
    durable_.clear();
    outputs_at_.clear();
    // The cuts after k come again, each to be written (or skipped) anew: one
    // still marked skipped would never send its Resume, and every worker
    // would wait at it for ever.
    skipped_.erase(skipped_.upper_bound(k), skipped_.end());
    loop_seen_.reset();
    for (WorkerInfo& w : workers_) {
      if (!w.lost) w.joining = false;
      w.done = false;
      w.stages.clear();       // the new epoch's reports say how far it has got
      w.group_loads.clear();  // and what its partition groups cost
    }
    std::vector<int> threads = threads_per_worker();
    map_ = rebalanced(map_, threads);
    balancer_.emplace(threads);
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (!workers_[w].lost) send_start(w, map_);
    log() << "controller: epoch " << epoch_.value() << ": every worker goes back to "
          << (k ? "snapshot " + std::to_string(k) : std::string("the start")) << "\n";
  }

  // What people see (status.h), from this controller's state.
  JobStatus status(const std::string& state) const {
    JobStatus s;
    s.job = program_.job;
    s.state = state;
    s.elapsed_s = seconds_since(started_);
    s.params = options_.params;
    s.epoch = epoch_.value();
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
      ws.cpus = info.summary.cpus;
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
        s.workers[map_.owner[g][i].value()].partitions.emplace_back(static_cast<int>(g), static_cast<int>(i));
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
    progress_.update(progress_text(s), ended);
  }

  // Anything else the controller says on stderr goes through here.
  std::ostream& log() { return progress_.log(); }

  // Lost workers too: one only stopped for a while (SIGSTOP, a stalled
  // host) would otherwise hold the embedded default's exit until its own
  // timeout.
  void shutdown_all(const std::string& reason) {
    msg::Shutdown message{reason};
    for (const WorkerInfo& w : workers_) send(w.identity, message);
  }

  int fail(const std::string& error) {
    publish("failed");
    shutdown_all("the job failed: " + error);
    if (!store_) abandon_files(program_, params_);  // without snapshots nothing can take the job on
    // The error last: it is what the user reads first.
    if (run_lock_)  // only the run's one controller speaks for its directory
      log() << "controller: the snapshots are left in " << store_->dir() << " (--resume goes on from them)\n";
    log() << program_.job << ": error: " << error << "\n";
    return 1;
  }

  int finish() {
    Status committed = commit_files(program_, params_);  // the part files' commit protocol, step 3
    if (!committed.ok()) return fail(committed.why());
    publish("finished");
    shutdown_all("");
    double elapsed = seconds_since(running_since_);
    std::vector<WorkerSummary> summaries;
    for (const WorkerInfo& w : workers_) summaries.push_back(w.summary);
    nlohmann::ordered_json stats =
        stats_json(program_, params_, elapsed, summaries, static_cast<int>(moves_.size()));
    stats["moves"] = moves_;
    stats["slowdown_per_worker"] = nlohmann::ordered_json::array();
    for (const WorkerInfo& w : workers_) stats["slowdown_per_worker"].push_back(w.slowdown);
    stats["snapshots"] = snapshots_;
    stats["snapshots_skipped"] = snapshots_skipped_;
    stats["recoveries"] = recoveries_;
    // canary::automatic chosen again from the first iterations: the count it started with.
    if (rechosen_from_ > 0) stats["partitions_at_first"] = rechosen_from_;
    stats["lost_workers"] = nlohmann::ordered_json::array();
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (workers_[w].lost) stats["lost_workers"].push_back(w);
    // What running the job cost every process outside task bodies, per task:
    // comparable between --dispatch=local and --dispatch=central.
    double controller_cpu = process_cpu_seconds(), worker_cpu = 0;
    for (const WorkerInfo& w : workers_) worker_cpu += w.summary.process_cpu_s;
    double tasks = stats["tasks"].get<double>(), task_cpu = stats["task_cpu_s"].get<double>();
    stats["dispatch"] = options_.central_dispatch ? "central" : "local";
    stats["controller_cpu_s"] = controller_cpu;
    stats["worker_process_cpu_s"] = worker_cpu;
    stats["overhead_ns_per_task"] = tasks > 0 ? (controller_cpu + worker_cpu - task_cpu) * 1e9 / tasks : 0.0;
    int code = report_results(program_, outputs_, stats, options_.results, elapsed, stats["tasks"],
                              std::to_string(workers_.size()) + " worker(s)");
    // Only once the results are out: until then --resume may still need them.
    if (store_ && code == 0) store_->remove_all();
    return code;
  }

  const Program& program_;
  void* params_;  // the count of canary::automatic datasets is set in step 2
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
    GroupPartition which;
    WorkerId from, to;
    Version version;
  };
  std::optional<Moving> moving_;                                    // the migration under way
  nlohmann::ordered_json moves_ = nlohmann::ordered_json::array();  // those done
  std::optional<Balancer> balancer_;
  static constexpr double kBalanceSeconds = 0.2;
  // canary::automatic: whether the runtime may still choose the count again,
  // and the count it started with if it did (0: it did not).
  bool may_rechoose_ = false;
  int rechosen_from_ = 0;
  static constexpr int kRechooseAfterIterations = 3;
  struct LoopSeen {  // this epoch's outermost loop when first seen: its iteration, and the measures then
    int loop;
    int iteration;
    double at_s;
    AutomaticLoads loads;
  };
  std::optional<LoopSeen> loop_seen_;
  std::mt19937 chaos_;
  std::optional<SnapshotStore> store_;
  std::optional<RunLock> run_lock_;                        // held while this controller runs the job
  std::map<int, std::set<GroupPartition>> written_;        // snapshots under way: what is written of each
  std::map<int, std::set<GroupPartition>> durable_;        // and what is on disk, once all is written
  std::map<int, std::vector<Outputs::Entry>> outputs_at_;  // the outputs made before their cuts
  std::vector<int> complete_;                              // the complete snapshots kept, oldest first
  std::set<int> skipped_;                                  // those of this epoch that could not be written
  Epoch epoch_{0};                                         // goes up with every rollback
  int start_at_ = 0;                                       // the snapshot this epoch started from
  int completed_through_ = 0;                              // the newest snapshot complete in this epoch
  int resumed_through_ = 0;                                // the newest the workers were told to go on from
  int snapshots_ = 0;
  int snapshots_skipped_ = 0;  // over every epoch
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

int run_controller(const Program& program, void* params, const ControllerOptions& options) {
  try {
    return Controller(program, params, options).run();
  } catch (const std::exception& e) {
    std::cerr << program.job << ": error: controller: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace canary::rt
