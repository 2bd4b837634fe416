#include "worker/worker.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "store/snapshot.h"
#include "wire/auth.h"
#include "wire/codec.h"
#include "worker/flusher.h"
#include "worker/outbox.h"

namespace canary::rt {
namespace {

// The host part of a tcp:// endpoint.
std::string host_of(const std::string& endpoint) {
  std::string rest =
      endpoint.substr(endpoint.find("://") == std::string::npos ? 0 : endpoint.find("://") + 3);
  return rest.substr(0, rest.rfind(':'));
}

// A worker's statistics over all its schedulers (one per rollback).
struct WorkerTotals {
  std::uint64_t tasks = 0;
  double scheduler_cpu_s = 0;
  double task_cpu_s = 0;
  double busy_s = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t held = 0;
  std::uint64_t unused = 0;
};

// One scheduler run: the first, or one after a rollback.
struct Generation {
  std::unique_ptr<LocalScheduler> scheduler;
  std::thread compute;
  std::string failure;  // written by the compute thread before `finished`
  std::atomic<bool> finished{false};
};

class Worker {
 public:
  Worker(const Program& program, const WorkerOptions& options)
      : program_(program), options_(options), params_(program.new_params(), program.delete_params) {}

  int run() {
    control_.set(zmq::sockopt::linger, 1000);
    control_.set(zmq::sockopt::sndtimeo, 1000);
    control_.set(zmq::sockopt::maxmsgsize, max_frame_bytes(kControlPieceBytes));
    // What a peer may have queued here: kDataRcvHwm pieces. More waits in its
    // own memory (a worker's Outbox), never dropped.
    data_in_.set(zmq::sockopt::rcvhwm, kDataRcvHwm);
    data_in_.set(zmq::sockopt::maxmsgsize, max_frame_bytes(kDataPieceBytes));
    admit_only_zmtp3_peers(data_in_);
    std::string host = options_.host.empty() ? guess_host() : options_.host;
    std::string listen = !options_.listen.empty()
                             ? options_.listen
                             : "tcp://" + (host == "127.0.0.1" ? host : std::string("*")) + ":0";
    if (options_.credentials) {
      authenticator_.emplace(context_, *options_.credentials, "worker");
      options_.credentials->serve(data_in_);
      options_.credentials->connect_to_controller(control_);
      refusals_.emplace(data_in_, "worker");
    } else if (!is_loopback_endpoint(listen) && !options_.insecure) {
      std::cerr
          << "worker: error: refusing to take data on " << listen
          << " without --keys: anyone who reaches it could feed the job. Give --keys DIR (the cluster's, "
             "from `"
          << program_.job << " keygen DIR`), or --insecure on a network you trust\n";
      return 2;
    }
    control_.connect(options_.controller);
    data_in_.bind(listen);
    std::string bound = data_in_.get(zmq::sockopt::last_endpoint);
    data_endpoint_ = "tcp://" + host + bound.substr(bound.rfind(':'));

    // Step 1: register and wait to be started.
    send_register();
    std::optional<msg::Start> order = await_start();
    if (!order) return exit_code_;

    // Step 2: run the shards while this thread moves messages.
    outputs_ = std::make_unique<Outputs>(program_);
    if (!take_params(order->params)) return 1;
    outbox_ = std::make_unique<Outbox>(program_);
    start(std::move(*order));
    bool ended = serve();
    std::string failure = finish(ended);
    // A lost controller can neither hear of a failure nor end the job: the
    // line above said all, and the worker exits at once.
    if (!failure.empty() && !told_to_stop_ && !controller_lost_) {
      // For the worker's own log on a cluster; said before it is reported,
      // so the controller's summary comes last. The embedded default's
      // controller writes to the same terminal.
      if (!options_.embedded) std::cerr << "worker " << id_.value() << ": error: " << failure << "\n";
      send(msg::Failure{id_, failure});
      await_shutdown();
    }
    // The job is over: what is still queued for a peer (a lost one, say)
    // matters to nobody, and must not hold up the exit.
    for (zmq::socket_t& socket : push_) socket.set(zmq::sockopt::linger, 0);
    return ended ? 0 : 1;
  }

 private:
  std::string guess_host() const {
    std::string h = host_of(options_.controller);
    if (h == "127.0.0.1" || h == "localhost") return "127.0.0.1";
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    return name;
  }

  // To the controller, never blocking: a full queue means it is gone or
  // stalled, which its own silence will say.
  template <class Message>
  void send(const Message& m) {
    Frames frames = encode(m);
    (void)send_frames(control_, frames);
  }

  void send_register() {
    // Waiting for a new controller, it can only be started above its epoch.
    Epoch next = waiting_since_ ? Epoch(epoch_.value() + 1) : Epoch(0);
    send(msg::Register{program_.job, data_endpoint_, options_.threads, options_.slowdown,
                       static_cast<int>(getpid()), options_.cpus, options_.numa_node, next});
  }

  // What arrived from the controller, decoded, until `use` returns false:
  // what follows stays queued for whoever reads next. Malformed messages are
  // dropped and logged.
  template <class Use>
  void receive_control(Use&& use) {
    Received frame;
    while (receive_frames(control_, frame, dropped_)) {
      Result<Envelope> e = decode(frame, {program_, peers_.size()});
      if (!e.ok()) {
        dropped_.about(e.why());
        continue;
      }
      if (!use(e.value())) return;
    }
  }

  std::optional<msg::Start> await_start() {
    Clock::time_point since = Clock::now(), registered = since;
    while (seconds_since(since) < options_.timeout_s) {
      zmq::pollitem_t items[] = {{control_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, std::chrono::milliseconds(200));
      if (seconds_since(registered) > 1) {  // in case the controller came up after us
        send_register();
        registered = Clock::now();
      }
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      std::optional<msg::Start> started;
      bool refused = false;
      receive_control([&](Envelope& e) {
        if (auto* shutdown = std::get_if<msg::Shutdown>(&e)) {
          refused = true;
          exit_code_ = shutdown->reason.empty() ? 0 : 1;
          std::cerr << "worker: "
                    << (shutdown->reason.empty() ? "the job ended before this worker was needed"
                                                 : "the controller refused this worker: " + shutdown->reason)
                    << "\n";
        }
        if (auto* s = std::get_if<msg::Start>(&e)) started = std::move(*s);
        return !refused && !started;  // what follows Start (a migration, say) is for the running worker
      });
      if (refused) return std::nullopt;
      if (started) return started;
    }
    std::cerr
        << "worker: error: no answer from the controller at " << options_.controller << " within "
        << options_.timeout_s
        << " s; is it running, is the address right, and, if it runs with --keys, does this worker have "
           "the cluster's keys? (--timeout to wait longer)\n";
    return std::nullopt;
  }

  // The job's parameters as the controller sent them, and the stages bound
  // to them. They change in a later epoch when the runtime chooses
  // canary::automatic's count again: what was made with the old count goes.
  bool take_params(const std::vector<std::string>& params) {
    if (params_taken_ && params == *params_taken_) return true;
    for (const std::string& p : params) {
      std::string error;
      if (!set_param_from(program_, params_.get(), p, error)) {
        std::cerr << "worker: error: the controller sent a bad parameter '" << p << "': " << error << "\n";
        return false;
      }
    }
    program_.bind(params_.get());
    outputs_->clear();
    params_taken_ = params;
    return true;
  }

  // Takes on what a Start orders, first or after a rollback (recovery, step
  // 3): the peers, the map and the epoch, then a scheduler that starts at the
  // program's start or from a snapshot. The controller hears whether it could.
  void start(msg::Start order) {
    id_ = order.worker;
    for (std::size_t w = 0; w < order.peers.size(); ++w) {
      if (w < peers_.size() && peers_[w] == order.peers[w]) continue;
      if (w >= push_.size()) {
        push_.emplace_back(context_, zmq::socket_type::push);
      } else {
        push_[w].set(zmq::sockopt::linger, 0);  // a lost peer's queue goes with it
        push_[w] = zmq::socket_t(context_, zmq::socket_type::push);
      }
      push_[w].set(zmq::sockopt::linger, 5000);
      push_[w].set(zmq::sockopt::sndhwm, 10000);
      if (options_.credentials) options_.credentials->connect_to_worker(push_[w]);
      if (static_cast<int>(w) != id_.value() && !order.peers[w].empty()) push_[w].connect(order.peers[w]);
    }
    peers_ = order.peers;
    pending_.resize(peers_.size());
    waiting_since_.reset();  // a controller again
    map_ = std::move(order.map);
    epoch_ = order.epoch;
    outbox_->set_sender(id_, epoch_);
    store_.reset();
    if (!order.snapshot_dir.empty()) store_.emplace(order.snapshot_dir, program_.job);
    if (store_ && !flusher_) flusher_ = std::make_unique<SnapshotFlusher>([this] { outbox_->wake(); });
    snapshot_every_ = order.snapshot_every;
    central_ = order.central_dispatch;

    std::string error = start_generation(order.start_at);
    if (!error.empty())
      std::cerr << "worker " << id_.value() << ": error: cannot start from snapshot " << order.start_at
                << ": " << error << "\n";
    send(msg::Restarted{id_, epoch_, error});
    // Data of this epoch that came before the order did.
    std::deque<Received> early = std::exchange(early_, {});
    for (Received& frame : early) receive_data_frame(frame);
  }

  // Returns an error instead of starting when the map does not fit or a
  // snapshot to start from does not check out.
  std::string start_generation(int start_at) {
    RunConfig config;
    config.threads = options_.threads;
    config.cpus = options_.cpus;
    config.worker = id_;
    config.workers = static_cast<int>(peers_.size());
    config.map = &map_;
    config.peers = outbox_.get();
    config.slowdown = options_.slowdown;
    config.until_ended = true;  // a partition may migrate here after this worker ran all it had
    config.on_idle = [this] { outbox_->wake(); };
    config.snapshots = store_ ? &*store_ : nullptr;
    config.snapshot_every = snapshot_every_;
    config.start_at = start_at;
    config.central = central_ ? outbox_.get() : nullptr;
    config.on_snapshot = [this, epoch = epoch_](int snapshot, const std::vector<GroupPartition>& written,
                                                const std::string& error) {
      if (options_.kill_at_snapshot == snapshot) raise(SIGKILL);  // tests: lost in the middle of a snapshot
      {
        std::lock_guard<std::mutex> lock(snapshots_mutex_);
        snapshots_written_.push_back({snapshot, written, error});
      }
      if (error.empty()) flusher_->flush({*store_, epoch, snapshot, written, ""});
      outbox_->wake();
    };
    auto generation = std::make_unique<Generation>();
    try {
      generation->scheduler = std::make_unique<LocalScheduler>(program_, params_.get(), config, *outputs_);
    } catch (const std::exception& e) {
      return e.what();
    }
    Generation* g = generation.get();
    g->compute = std::thread([this, g] {
      try {
        g->scheduler->run();
      } catch (const std::exception& e) {
        g->failure = e.what();
      }
      g->finished = true;
      outbox_->wake();
    });
    generation_ = std::move(generation);
    reported_idle_ = false;
    return "";
  }

  // Stops the scheduler, if one runs, and keeps its statistics; returns its
  // failure, if it failed. `ended`: the job is complete, it stops by itself.
  std::string finish(bool ended) {
    if (!generation_) return "";
    if (ended) {
      generation_->scheduler->end();
    } else {
      generation_->scheduler->stop("stopped");
    }
    generation_->compute.join();
    std::string failure = generation_->failure;
    totals_ = totals();
    generation_.reset();
    return failure;
  }

  // The statistics of every scheduler so far, the running one included.
  WorkerTotals totals() const {
    WorkerTotals t = totals_;
    if (!generation_) return t;
    const LocalScheduler& s = *generation_->scheduler;
    RunStats stats = s.stats();
    t.tasks += stats.tasks;
    t.scheduler_cpu_s += stats.scheduler_cpu_s;
    t.task_cpu_s += stats.task_cpu_s;
    t.busy_s += s.busy_seconds();
    t.forwarded += s.forwarded();
    t.held += s.held();
    t.unused += stats.unused_messages;
    return t;
  }

  // One round of the I/O loop: data in, data out, control messages.
  // Returns whether the controller said anything.
  bool move_data(bool& shutdown) {
    std::vector<zmq::pollitem_t> items = {{control_.handle(), 0, ZMQ_POLLIN, 0},
                                          {data_in_.handle(), 0, ZMQ_POLLIN, 0},
                                          {nullptr, outbox_->fd(), ZMQ_POLLIN, 0}};
    for (std::size_t w = 0; w < pending_.size(); ++w)
      if (!pending_[w].empty()) items.push_back({push_[w].handle(), 0, ZMQ_POLLOUT, 0});
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    if (refusals_) refusals_->poll();
    if (items[2].revents & ZMQ_POLLIN)
      for (auto& [w, frames] : outbox_->take()) {
        if (w == kToController) {
          (void)send_frames(control_, frames);
        } else if (!peers_[w.value()].empty()) {  // a lost peer gets nothing
          pending_[w.value()].push_back(std::move(frames));
        }
      }
    send_pending();
    if (items[1].revents & ZMQ_POLLIN) receive_data();
    if (!(items[0].revents & ZMQ_POLLIN)) return false;
    receive_control([&](Envelope& e) {
      obey(e, shutdown);
      return true;
    });
    return true;
  }

  // The I/O loop while the shards run, with heartbeats both ways, load
  // reports, snapshot reports, and Done whenever the shards have run all
  // they hold. Returns true when the controller ends the job, false on a
  // failure.
  bool serve() {
    Clock::time_point last_heartbeat = Clock::now(), last_contact = Clock::now(), last_report = Clock::now();
    while (!(generation_ && generation_->finished)) {
      bool shutdown = false;
      if (move_data(shutdown)) last_contact = Clock::now();
      if (shutdown) {
        told_to_stop_ = true;
        return ended_;
      }
      send_snapshot_reports();
      if (generation_ && !reported_idle_ && generation_->scheduler->idle()) {
        send_load_report();  // the controller's view of the progress is whole when Done arrives
        send_done();
        reported_idle_ = true;
      }
      if (seconds_since(last_heartbeat) > 0.5) {
        send(msg::Heartbeat{id_});
        last_heartbeat = Clock::now();
      }
      if (generation_ && seconds_since(last_report) > kLoadReportSeconds) {
        send_load_report();
        last_report = Clock::now();
      }
      if (seconds_since(last_contact) > options_.timeout_s && !await_controller()) {
        if (generation_) generation_->scheduler->stop("the controller was lost");
        controller_lost_ = true;
        return false;
      }
    }
    return false;
  }

  // The controller has been silent --timeout seconds. A job that writes
  // snapshots can be resumed by a controller started again on the same
  // endpoint (controller --resume): the worker keeps its state and
  // registers again every second for the grace period; that controller's
  // Start rolls it back (obey). Returns false when it is to give up.
  bool await_controller() {
    double grace = options_.controller_grace_s >= 0 ? options_.controller_grace_s : store_ ? 60.0 : 0.0;
    if (!waiting_since_) {
      if (grace <= 0) {
        std::cerr << "worker " << id_.value() << ": error: the controller has been silent for "
                  << options_.timeout_s << " s; giving up\n";
        return false;
      }
      std::cerr << "worker " << id_.value() << ": the controller has been silent for " << options_.timeout_s
                << " s; keeping this worker's state for " << grace << " s, for a controller started with `"
                << program_.job << " controller --resume RUN_DIR --listen " << options_.controller
                << "` (worker --controller-grace)\n";
      waiting_since_ = registered_at_ = Clock::now();
    }
    if (seconds_since(*waiting_since_) > grace) {
      std::cerr << "worker " << id_.value() << ": error: no controller came back within " << grace
                << " s; giving up\n";
      return false;
    }
    if (seconds_since(registered_at_) > 1) {
      send_register();
      registered_at_ = Clock::now();
    }
    return true;
  }

  // Never per task: the controller balances on these.
  static constexpr double kLoadReportSeconds = 0.1;

  void send_load_report() {
    WorkerTotals t = totals();
    const LocalScheduler& s = *generation_->scheduler;
    send(msg::LoadReport{id_, epoch_, t.tasks, t.busy_s,
                         std::max(0.0, seconds_since(started_) * options_.threads - t.busy_s),
                         s.group_loads(), s.stage_progress(), t.scheduler_cpu_s});
  }

  // Snapshots, step 2, for the controller: which partitions the shards
  // wrote, with every output so far (they must outlive this worker), then
  // which are on disk.
  void send_snapshot_reports() {
    std::vector<SnapshotReport> reports;
    {
      std::lock_guard<std::mutex> lock(snapshots_mutex_);
      reports.swap(snapshots_written_);
    }
    for (SnapshotReport& r : reports)
      send(msg::SnapshotWritten{id_, epoch_, r.snapshot, std::move(r.written), outputs_->entries(), r.error});
    if (!flusher_) return;
    for (SnapshotFlusher::Batch& b : flusher_->take())  // those of an older epoch, the controller drops
      send(msg::SnapshotWritten{
          id_, b.epoch, b.snapshot, std::move(b.partitions), {}, std::move(b.error), true});
  }

  // Sends what waits for each peer without blocking: a full peer (at its
  // high-water mark) keeps its frames here until it takes more, so nothing
  // is dropped and this thread keeps receiving meanwhile.
  void send_pending() {
    for (std::size_t w = 0; w < pending_.size(); ++w) {
      while (!pending_[w].empty()) {
        if (!send_frames(push_[w], pending_[w].front())) break;
        pending_[w].pop_front();
      }
    }
  }

  void receive_data() {
    Received frame;
    while (receive_frames(data_in_, frame, dropped_)) receive_data_frame(frame);
  }
  static constexpr int kDataRcvHwm = 256;

  // Data of an older epoch is dropped: the rollback made it void. Data of a
  // newer one waits for this worker's own order to roll back.
  void receive_data_frame(Received& frame) {
    Result<Envelope> e = decode(frame, {program_, peers_.size()});
    if (!e.ok()) {
      dropped_.about(e.why());
      return;
    }
    auto* data = std::get_if<msg::Data>(&e.value());
    auto* handover = std::get_if<msg::HandOver>(&e.value());
    if (!data && !handover) {
      dropped_.about("not a data message");
      return;
    }
    Epoch epoch = data ? data->epoch : handover->epoch;
    if (epoch < epoch_) return;
    if (epoch > epoch_) {
      if (early_.size() < kMaxEarlyFrames) {
        early_.push_back(std::move(frame));
      } else {
        dropped_.about("too much data from a future epoch");
      }
      return;
    }
    if (!generation_) return;  // it could not start over: the controller orders another rollback
    Status taken = data ? generation_->scheduler->deliver(std::move(data->message))
                        : adopt(std::move(handover->handover));
    if (!taken.ok()) dropped_.about(taken.why());
  }
  static constexpr std::size_t kMaxEarlyFrames = 100000;

  // What the controller says while the job runs.
  void obey(Envelope& e, bool& shutdown) {
    LocalScheduler* scheduler = generation_ ? generation_->scheduler.get() : nullptr;
    if (auto* s = std::get_if<msg::Shutdown>(&e)) {
      shutdown = true;
      // An empty reason: the job is complete (it follows every worker's Done).
      ended_ = s->reason.empty() && (reported_idle_ || !scheduler);
      if (scheduler && !ended_)
        scheduler->stop(s->reason.empty() ? "the controller ended the job" : s->reason);
    } else if (auto* start = std::get_if<msg::Start>(&e)) {
      if (start->epoch > epoch_) roll_back(std::move(*start));
    } else if (auto* launch = std::get_if<msg::Launch>(&e)) {
      if (scheduler) report(scheduler->launch(launch->shard, std::move(launch->tasks)), "");
    } else if (auto* resume = std::get_if<msg::Resume>(&e)) {
      if (scheduler) scheduler->resume(resume->snapshot);
    } else if (auto* migrate = std::get_if<msg::Migrate>(&e)) {
      if (++migrations_ordered_ == options_.kill_at_migration) raise(SIGKILL);  // tests: lost mid-migration
      if (scheduler)
        report(scheduler->migrate(migrate->which, migrate->to, migrate->version), "a migration: ");
    } else if (auto* update = std::get_if<msg::MapUpdate>(&e)) {
      if (scheduler) report(scheduler->update_map(update->map), "a map update: ");
    }
  }

  void report(const Status& status, const std::string& what) {
    if (!status.ok()) dropped_.about(what + status.why());
  }

  // Recovery, step 3: everything of the old epoch goes (the scheduler with
  // its partitions, and what waits to be sent), then the worker starts over
  // as ordered.
  void roll_back(msg::Start order) {
    if (order.worker != id_ && !waiting_since_) {  // a new controller numbers the workers afresh
      dropped_.about("a rollback for another worker");
      return;
    }
    finish(false);
    (void)outbox_->take();
    for (auto& frames : pending_) frames.clear();
    {
      std::lock_guard<std::mutex> lock(snapshots_mutex_);
      snapshots_written_.clear();
    }
    std::cerr << "worker " << id_.value() << ": rolling back to "
              << (order.start_at ? "snapshot " + std::to_string(order.start_at) : std::string("the start"))
              << "\n";
    if (!take_params(order.params)) {
      send(msg::Failure{id_, "the controller sent bad parameters to start over with"});
      return;
    }
    start(std::move(order));
  }

  void send_done() {
    WorkerTotals t = totals();
    send(msg::Done{id_, epoch_, t.tasks, t.scheduler_cpu_s, t.task_cpu_s, process_cpu_seconds(), t.forwarded,
                   t.held, outputs_->entries(), t.unused});
  }

  // Migration, steps 4 and 5: install, then tell the controller, after
  // which this worker reports Done again once it has run them to the end.
  Status adopt(Handover h) {
    GroupPartition which = h.which;
    Version version = h.version;
    Status adopted = generation_->scheduler->adopt(std::move(h));
    if (!adopted.ok()) return adopted;
    reported_idle_ = false;
    send(msg::Migrated{id_, epoch_, which, version});
    return Status::fine();
  }

  // After a failure here: keeps moving data (forwarding what others
  // misroute here, sending what is still queued) until the controller ends
  // the job.
  bool await_shutdown() {
    Clock::time_point since = Clock::now();
    while (seconds_since(since) < options_.timeout_s) {
      bool shutdown = false;
      move_data(shutdown);
      if (shutdown) return true;
    }
    std::cerr << "worker " << id_.value() << ": error: the controller did not end the job within "
              << options_.timeout_s << " s\n";
    return false;
  }

  const Program& program_;
  WorkerOptions options_;
  std::unique_ptr<void, void (*)(void*)> params_;
  std::optional<std::vector<std::string>> params_taken_;  // as the newest Start said them
  zmq::context_t context_;
  std::optional<Authenticator> authenticator_;  // with credentials: for the data socket
  zmq::socket_t control_{context_, zmq::socket_type::dealer};
  zmq::socket_t data_in_{context_, zmq::socket_type::pull};
  std::optional<RefusalLog> refusals_;  // with credentials: of the data socket
  std::vector<zmq::socket_t> push_;
  std::vector<std::deque<Frames>> pending_;
  std::deque<Received> early_;                      // data of an epoch this worker has not reached yet
  bool controller_lost_ = false;                    // it stayed silent past the timeout, and the grace
  std::optional<Clock::time_point> waiting_since_;  // for a controller started again, since then
  Clock::time_point registered_at_;                 // the last registration while waiting
  std::string data_endpoint_;
  WorkerId id_{0};
  std::vector<std::string> peers_;
  PartitionMap map_;
  Epoch epoch_{0};
  std::optional<SnapshotStore> store_;
  int snapshot_every_ = 0;
  bool central_ = false;              // central dispatch: tasks wait for the controller's Launch
  std::unique_ptr<Outputs> outputs_;  // across rollbacks: a recomputed value replaces its equal
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<SnapshotFlusher> flusher_;  // with snapshots; declared after the outbox it wakes
  std::unique_ptr<Generation> generation_;
  WorkerTotals totals_;  // of the schedulers before this one
  std::mutex snapshots_mutex_;
  struct SnapshotReport {
    int snapshot;
    std::vector<GroupPartition> written;
    std::string error;
  };
  std::vector<SnapshotReport> snapshots_written_;
  int migrations_ordered_ = 0;
  int exit_code_ = 1;           // when it never starts
  bool reported_idle_ = false;  // Done sent, and nothing adopted since
  bool ended_ = false;          // the controller ended the job
  bool told_to_stop_ = false;   // the controller ended it, well or not
  Clock::time_point started_ = Clock::now();
  DropLog dropped_{"worker"};
};

}  // namespace

int run_worker(const Program& program, const WorkerOptions& options) {
  try {
    return Worker(program, options).run();
  } catch (const std::exception& e) {
    std::cerr << "worker: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace canary::rt
