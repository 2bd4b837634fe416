#include "worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "auth.h"
#include "snapshot.h"
#include "wire.h"

namespace canary::rt {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The host part of a tcp:// endpoint.
std::string host_of(const std::string& endpoint) {
  std::string rest =
      endpoint.substr(endpoint.find("://") == std::string::npos ? 0 : endpoint.find("://") + 3);
  return rest.substr(0, rest.rfind(':'));
}

// Where Outbox::take() puts a frame for the controller.
constexpr int kToController = -1;

// Frames the compute threads want sent, handed to the I/O thread, which
// alone touches the sockets. An eventfd wakes it.
class Outbox : public Peers, public Dispatcher {
 public:
  explicit Outbox(const Program& program)
      : program_(program), wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Outbox() override { close(wake_); }
  // Both encode on the calling compute thread, stamped with the epoch.
  void send(int worker, const Message& m) override {
    post(worker, encode_data(m, program_.job, program_, epoch_));
  }
  void hand_over(int worker, const Handover& h) override {
    post(worker, encode_handover(h, program_.job, program_, epoch_));
  }
  void report(int shard, const std::vector<TaskId>& finished, const std::vector<TaskId>& ready) override {
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<wire::Envelope>().initTaskReport();
    r.setWorker(worker_);
    r.setShard(static_cast<std::uint32_t>(shard));
    auto fill = [](capnp::List<wire::TaskId>::Builder list, const std::vector<TaskId>& tasks) {
      for (std::size_t i = 0; i < tasks.size(); ++i) {
        list[i].setSeq(tasks[i].seq);
        list[i].setSlot(static_cast<std::uint32_t>(tasks[i].slot));
      }
    };
    fill(r.initFinished(finished.size()), finished);
    fill(r.initReady(ready.size()), ready);
    post(kToController, to_frames(message, kControlPieceBytes));
  }
  // Only while no compute thread runs (between two schedulers).
  void set_sender(unsigned worker, std::uint64_t epoch) {
    worker_ = worker;
    epoch_ = epoch;
  }
  void wake() {
    std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  int fd() const { return wake_; }
  std::deque<std::pair<int, Frames>> take() {
    std::uint64_t count;
    (void)!::read(wake_, &count, sizeof count);
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(queue_, {});
  }

 private:
  void post(int worker, Frames frames) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.emplace_back(worker, std::move(frames));
    }
    wake();
  }

  const Program& program_;
  unsigned worker_ = 0;
  std::uint64_t epoch_ = 0;
  int wake_;
  std::mutex mutex_;
  std::deque<std::pair<int, Frames>> queue_;
};

// A worker's statistics over all its schedulers (one per rollback).
struct WorkerTotals {
  std::uint64_t tasks = 0;
  double scheduler_cpu_s = 0;
  double task_cpu_s = 0;
  double busy_s = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t held = 0;
};

// What a Start message orders: the first start, and every rollback.
struct StartOrder {
  unsigned worker = 0;
  std::vector<std::string> params, peers;
  PartitionMap map;
  std::uint64_t epoch = 0;
  std::string snapshot_dir;
  int snapshot_every = 0;
  int start_at = 0;
  bool central = false;
};

std::string decode_start(wire::Start::Reader s, StartOrder& out) {
  out.worker = s.getWorker();
  for (auto p : s.getParams()) out.params.emplace_back(p.cStr());
  for (auto p : s.getPeers()) out.peers.emplace_back(p.cStr());
  if (out.worker >= out.peers.size() || out.peers[out.worker].empty())
    return "a start for a worker not listed";
  out.epoch = s.getEpoch();
  out.snapshot_dir = s.getSnapshotDir();
  out.snapshot_every = static_cast<int>(std::min(s.getSnapshotEvery(), 1u << 30));
  out.start_at = static_cast<int>(std::min(s.getStartAt(), 1u << 30));
  if (out.start_at > 0 && out.snapshot_dir.empty()) return "a start from a snapshot without its directory";
  out.central = s.getCentralDispatch();
  std::string error = decode_map(s.getMap(), out.peers.size(), out.map);
  return error.empty() ? "" : "a start message with " + error;
}

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
    StartOrder order;
    if (!await_start(order)) return exit_code_;

    // Step 2: run the shards while this thread moves messages.
    for (const std::string& p : order.params) {
      std::string error, name = p.substr(0, p.find('=')), value = p.substr(p.find('=') + 1);
      if (!program_.set_param(params_.get(), name, value, error)) {
        std::cerr << "worker: error: the controller sent a bad parameter '" << p << "': " << error << "\n";
        return 1;
      }
    }
    program_.bind(params_.get());
    outputs_ = std::make_unique<Outputs>(program_);
    outbox_ = std::make_unique<Outbox>(program_);
    start(std::move(order));
    bool ended = serve();
    std::string failure = finish(ended);
    if (!failure.empty() && !told_to_stop_) {
      // Said before it is reported, so the controller's summary comes last.
      std::cerr << "worker " << id_ << ": error: " << failure << "\n";
      send_failure(failure);
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

  void send_envelope(capnp::MessageBuilder& message) {
    Frames frames = to_frames(message, kControlPieceBytes);
    (void)send_frames(control_, frames);
  }

  void send_register() {
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<wire::Envelope>().initRegister();
    r.setJob(program_.job);
    r.setDataEndpoint(data_endpoint_);
    r.setThreads(options_.threads);
    r.setSlowdown(options_.slowdown);
    r.setPid(static_cast<std::uint32_t>(getpid()));
    send_envelope(message);
  }

  bool await_start(StartOrder& order) {
    Clock::time_point since = Clock::now(), registered = since;
    while (seconds_since(since) < options_.timeout_s) {
      zmq::pollitem_t items[] = {{control_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, std::chrono::milliseconds(200));
      if (seconds_since(registered) > 1) {  // in case the controller came up after us
        send_register();
        registered = Clock::now();
      }
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t frame;
      if (!receive_frames(control_, frame, dropped_)) continue;
      bool started = false, refused = false;
      std::string error = with_envelope(frame, [&](wire::Envelope::Reader e) {
        if (e.isShutdown()) {
          refused = true;
          std::string reason = e.getShutdown().getReason();
          exit_code_ = reason.empty() ? 0 : 1;
          std::cerr << "worker: "
                    << (reason.empty() ? "the job ended before this worker was needed"
                                       : "the controller refused this worker: " + reason)
                    << "\n";
        }
        if (e.isStart()) {
          std::string problem = decode_start(e.getStart(), order);
          if (!problem.empty()) dropped_.about(problem);
          started = problem.empty();
        }
      });
      if (!error.empty()) dropped_.about(error);
      if (refused) return false;
      if (started) return true;
    }
    std::cerr
        << "worker: error: no answer from the controller at " << options_.controller << " within "
        << options_.timeout_s
        << " s; is it running, is the address right, and, if it runs with --keys, does this worker have "
           "the cluster's keys? (--timeout to wait longer)\n";
    return false;
  }

  // Takes on what a Start orders, first or after a rollback (recovery, step
  // 3): the peers, the map and the epoch, then a scheduler that starts at
  // the program's start or from a snapshot. The controller hears whether it
  // could.
  void start(StartOrder order) {
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
      if (w != id_ && !order.peers[w].empty()) push_[w].connect(order.peers[w]);
    }
    peers_ = order.peers;
    pending_.resize(peers_.size());
    map_ = std::move(order.map);
    epoch_ = order.epoch;
    outbox_->set_sender(id_, epoch_);
    store_.reset();
    if (!order.snapshot_dir.empty()) store_.emplace(order.snapshot_dir, program_.job);
    snapshot_every_ = order.snapshot_every;
    central_ = order.central;

    std::string error = start_generation(order.start_at);
    if (!error.empty())
      std::cerr << "worker " << id_ << ": error: cannot start from snapshot " << order.start_at << ": "
                << error << "\n";
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<wire::Envelope>().initRestarted();
    r.setWorker(id_);
    r.setEpoch(epoch_);
    r.setError(error);
    send_envelope(message);
    // Data of this epoch that came before the order did.
    std::deque<zmq::message_t> early = std::exchange(early_, {});
    for (zmq::message_t& frame : early) receive_data_frame(frame);
  }

  // Returns an error instead of starting when the map does not fit or a
  // snapshot to start from does not check out.
  std::string start_generation(int start_at) {
    RunConfig config;
    config.threads = options_.threads;
    config.worker = static_cast<int>(id_);
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
    config.on_snapshot = [this](int snapshot, const std::vector<std::pair<int, int>>& written) {
      if (options_.kill_at_snapshot == snapshot) raise(SIGKILL);  // tests: lost in the middle of a snapshot
      {
        std::lock_guard<std::mutex> lock(snapshots_mutex_);
        snapshots_written_.emplace_back(snapshot, written);
      }
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
        } else if (!peers_[w].empty()) {  // a lost peer gets nothing
          pending_[w].push_back(std::move(frames));
        }
      }
    send_pending();
    if (items[1].revents & ZMQ_POLLIN) receive_data();
    if (!(items[0].revents & ZMQ_POLLIN)) return false;
    receive_control(shutdown);
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
        capnp::MallocMessageBuilder message;
        message.initRoot<wire::Envelope>().initHeartbeat().setWorker(id_);
        send_envelope(message);
        last_heartbeat = Clock::now();
      }
      if (generation_ && seconds_since(last_report) > kLoadReportSeconds) {
        send_load_report();
        last_report = Clock::now();
      }
      if (seconds_since(last_contact) > options_.timeout_s) {
        std::cerr << "worker " << id_ << ": error: the controller has been silent for " << options_.timeout_s
                  << " s; giving up\n";
        if (generation_) generation_->scheduler->stop("the controller was lost");
        return false;
      }
    }
    return false;
  }

  // Never per task: the controller balances on these.
  static constexpr double kLoadReportSeconds = 0.1;

  void send_load_report() {
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<wire::Envelope>().initLoadReport();
    r.setWorker(id_);
    r.setEpoch(epoch_);
    WorkerTotals t = totals();
    r.setTasks(t.tasks);
    r.setBusySeconds(t.busy_s);
    r.setIdleSeconds(std::max(0.0, seconds_since(started_) * options_.threads - t.busy_s));
    std::vector<GroupLoad> loads = generation_->scheduler->group_loads();
    auto groups = r.initGroups(loads.size());
    for (std::size_t i = 0; i < loads.size(); ++i) {
      groups[i].setGroup(loads[i].group);
      groups[i].setPartition(loads[i].partition);
      groups[i].setCpuSeconds(loads[i].cpu_s);
      groups[i].setTasks(loads[i].tasks);
    }
    std::vector<StageProgress> progress = generation_->scheduler->stage_progress();
    auto stages = r.initStages(progress.size());
    for (std::size_t i = 0; i < progress.size(); ++i) {
      stages[i].setStage(static_cast<unsigned>(progress[i].stage));
      stages[i].setRun(progress[i].run);
      stages[i].setIteration(progress[i].iteration);
      stages[i].setDone(static_cast<unsigned>(progress[i].done));
    }
    send_envelope(message);
  }

  // Snapshots, step 2, for the controller: which partitions the shards
  // wrote, and every output so far (they must outlive this worker).
  void send_snapshot_reports() {
    std::vector<std::pair<int, std::vector<std::pair<int, int>>>> reports;
    {
      std::lock_guard<std::mutex> lock(snapshots_mutex_);
      reports.swap(snapshots_written_);
    }
    for (const auto& [snapshot, written] : reports) {
      capnp::MallocMessageBuilder message;
      auto r = message.initRoot<wire::Envelope>().initSnapshotWritten();
      r.setWorker(id_);
      r.setEpoch(epoch_);
      r.setSnapshot(static_cast<std::uint32_t>(snapshot));
      auto list = r.initPartitions(written.size());
      for (std::size_t i = 0; i < written.size(); ++i) {
        list[i].setGroup(written[i].first);
        list[i].setPartition(written[i].second);
      }
      encode_outputs(r);
      send_envelope(message);
    }
  }

  // Every output so far, as the outputs list of `to` (a Done or a
  // SnapshotWritten).
  template <class Builder>
  void encode_outputs(Builder to) const {
    std::vector<Outputs::Entry> entries = outputs_->entries();
    auto list = to.initOutputs(static_cast<unsigned>(entries.size()));
    for (std::size_t i = 0; i < entries.size(); ++i) {
      list[i].setKey(entries[i].key);
      list[i].setStage(entries[i].stage);
      list[i].setIndex(entries[i].index);
      list[i].setJson(entries[i].json);
      list[i].setSeq(entries[i].seq);
    }
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
    zmq::message_t frame;
    while (receive_frames(data_in_, frame, dropped_)) receive_data_frame(frame);
  }
  static constexpr int kDataRcvHwm = 256;

  // Data of an older epoch is dropped: the rollback made it void. Data of a
  // newer one waits for this worker's own order to roll back.
  void receive_data_frame(zmq::message_t& frame) {
    std::string problem;
    bool early = false;
    std::string error = with_envelope(frame, [&](wire::Envelope::Reader e) {
      std::uint64_t epoch = e.isData()       ? e.getData().getEpoch()
                            : e.isHandover() ? e.getHandover().getEpoch()
                                             : 0;
      if (epoch < epoch_) return;
      if (epoch > epoch_) {
        early = true;
        return;
      }
      if (!generation_) return;  // it could not start over: the controller orders another rollback
      if (e.isData()) {
        Message m(Message::Kind::Signal, 0, 0);
        problem = decode_data(e.getData(), program_, m);
        if (problem.empty()) problem = generation_->scheduler->deliver(std::move(m));
      } else if (e.isHandover()) {
        problem = adopt(e.getHandover());
      } else {
        problem = "not a data message";
      }
    });
    if (early) {
      if (early_.size() < kMaxEarlyFrames) {
        early_.push_back(std::move(frame));
      } else {
        problem = "too much data from a future epoch";
      }
    }
    if (error.empty()) error = problem;
    if (!error.empty()) dropped_.about(error);
  }
  static constexpr std::size_t kMaxEarlyFrames = 100000;

  void receive_control(bool& shutdown) {
    zmq::message_t frame;
    while (receive_frames(control_, frame, dropped_)) {
      std::string error = with_envelope(frame, [&](wire::Envelope::Reader e) {
        LocalScheduler* scheduler = generation_ ? generation_->scheduler.get() : nullptr;
        if (e.isShutdown()) {
          shutdown = true;
          std::string reason = e.getShutdown().getReason().cStr();
          // An empty reason: the job is complete (it follows every worker's Done).
          ended_ = reason.empty() && (reported_idle_ || !scheduler);
          if (scheduler && !ended_) scheduler->stop(reason.empty() ? "the controller ended the job" : reason);
        }
        if (e.isStart() && e.getStart().getEpoch() > epoch_) roll_back(e.getStart());
        if (e.isLaunch() && scheduler) {
          auto l = e.getLaunch();
          std::vector<TaskId> tasks;
          for (auto t : l.getTasks())
            tasks.push_back({t.getSeq(), static_cast<int>(std::min(t.getSlot(), 1u << 30))});
          std::string problem =
              scheduler->launch(static_cast<int>(std::min(l.getShard(), 1u << 30)), std::move(tasks));
          if (!problem.empty()) dropped_.about(problem);
        }
        if (e.isResume() && scheduler)
          scheduler->resume(static_cast<int>(std::min(e.getResume().getSnapshot(), 1u << 30)));
        if (e.isMigrate() && scheduler) {
          if (++migrations_ordered_ == options_.kill_at_migration)
            raise(SIGKILL);  // tests: lost mid-migration
          auto m = e.getMigrate();
          std::string problem =
              m.getGroup() > INT32_MAX || m.getPartition() > INT32_MAX || m.getTo() > INT32_MAX
                  ? "out of range"
                  : scheduler->migrate(static_cast<int>(m.getGroup()), static_cast<int>(m.getPartition()),
                                       static_cast<int>(m.getTo()), m.getVersion());
          if (!problem.empty()) dropped_.about("a migration: " + problem);
        }
        if (e.isMapUpdate() && scheduler) {
          PartitionMap update;
          std::string problem = decode_map(e.getMapUpdate().getMap(), peers_.size(), update);
          if (problem.empty()) problem = scheduler->update_map(update);
          if (!problem.empty()) dropped_.about("a map update: " + problem);
        }
      });
      if (!error.empty()) dropped_.about(error);
    }
  }

  // Recovery, step 3: everything of the old epoch goes (the scheduler with
  // its partitions, and what waits to be sent), then the worker starts over
  // as ordered.
  void roll_back(wire::Start::Reader s) {
    StartOrder order;
    std::string problem = decode_start(s, order);
    if (!problem.empty() || order.worker != id_) {
      dropped_.about(problem.empty() ? "a rollback for another worker" : problem);
      return;
    }
    finish(false);
    (void)outbox_->take();
    for (auto& frames : pending_) frames.clear();
    {
      std::lock_guard<std::mutex> lock(snapshots_mutex_);
      snapshots_written_.clear();
    }
    std::cerr << "worker " << id_ << ": rolling back to " << (order.start_at ? "snapshot " : "the start")
              << (order.start_at ? std::to_string(order.start_at) : "") << "\n";
    start(std::move(order));
  }

  void send_failure(const std::string& what) {
    capnp::MallocMessageBuilder message;
    auto f = message.initRoot<wire::Envelope>().initFailure();
    f.setWorker(id_);
    f.setMessage(what);
    send_envelope(message);
  }

  void send_done() {
    WorkerTotals t = totals();
    capnp::MallocMessageBuilder message;
    auto d = message.initRoot<wire::Envelope>().initDone();
    d.setWorker(id_);
    d.setEpoch(epoch_);
    d.setTasks(t.tasks);
    d.setSchedulerCpuS(t.scheduler_cpu_s);
    d.setTaskCpuS(t.task_cpu_s);
    d.setForwarded(t.forwarded);
    d.setHeld(t.held);
    timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    d.setProcessCpuS(cpu.tv_sec + cpu.tv_nsec * 1e-9);
    encode_outputs(d);
    send_envelope(message);
  }

  // Migration, steps 4 and 5: install, then tell the controller, after
  // which this worker reports Done again once it has run them to the end.
  std::string adopt(wire::Handover::Reader b) {
    Handover h;
    std::string problem = decode_handover(b, program_, h);
    if (!problem.empty()) return problem;
    int group = h.group, partition = h.partition;
    std::uint64_t version = h.version;
    problem = generation_->scheduler->adopt(std::move(h));
    if (!problem.empty()) return problem;
    reported_idle_ = false;
    capnp::MallocMessageBuilder message;
    auto m = message.initRoot<wire::Envelope>().initMigrated();
    m.setWorker(id_);
    m.setEpoch(epoch_);
    m.setGroup(group);
    m.setPartition(partition);
    m.setVersion(version);
    send_envelope(message);
    return "";
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
    std::cerr << "worker " << id_ << ": error: the controller did not end the job within "
              << options_.timeout_s << " s\n";
    return false;
  }

  const Program& program_;
  WorkerOptions options_;
  std::unique_ptr<void, void (*)(void*)> params_;
  zmq::context_t context_;
  std::optional<Authenticator> authenticator_;  // with credentials: for the data socket
  zmq::socket_t control_{context_, zmq::socket_type::dealer};
  zmq::socket_t data_in_{context_, zmq::socket_type::pull};
  std::optional<RefusalLog> refusals_;  // with credentials: of the data socket
  std::vector<zmq::socket_t> push_;
  std::vector<std::deque<Frames>> pending_;
  std::deque<zmq::message_t> early_;  // data of an epoch this worker has not reached yet
  std::string data_endpoint_;
  unsigned id_ = 0;
  std::vector<std::string> peers_;
  PartitionMap map_;
  std::uint64_t epoch_ = 0;
  std::optional<SnapshotStore> store_;
  int snapshot_every_ = 0;
  bool central_ = false;              // central dispatch: tasks wait for the controller's Launch
  std::unique_ptr<Outputs> outputs_;  // across rollbacks: a recomputed value replaces its equal
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Generation> generation_;
  WorkerTotals totals_;  // of the schedulers before this one
  std::mutex snapshots_mutex_;
  std::vector<std::pair<int, std::vector<std::pair<int, int>>>> snapshots_written_;
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
