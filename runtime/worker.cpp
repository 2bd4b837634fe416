#include "worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

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

// Frames the compute threads want sent, handed to the I/O thread, which
// alone touches the sockets. An eventfd wakes it.
class Outbox : public Peers {
 public:
  explicit Outbox(const Program& program)
      : program_(program), wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Outbox() override { close(wake_); }
  // Both encode on the calling compute thread.
  void send(int worker, const Message& m) override { post(worker, encode_data(m, program_.job, program_)); }
  void hand_over(int worker, const Handover& h) override {
    post(worker, encode_handover(h, program_.job, program_));
  }
  void wake() {
    std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  int fd() const { return wake_; }
  std::deque<std::pair<int, zmq::message_t>> take() {
    std::uint64_t count;
    (void)!::read(wake_, &count, sizeof count);
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(queue_, {});
  }

 private:
  void post(int worker, zmq::message_t frame) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.emplace_back(worker, std::move(frame));
    }
    wake();
  }

  const Program& program_;
  int wake_;
  std::mutex mutex_;
  std::deque<std::pair<int, zmq::message_t>> queue_;
};

class Worker {
 public:
  Worker(const Program& program, const WorkerOptions& options) : program_(program), options_(options) {}

  int run() {
    control_.set(zmq::sockopt::linger, 1000);
    control_.set(zmq::sockopt::sndtimeo, 1000);
    control_.connect(options_.controller);
    data_in_.set(zmq::sockopt::rcvhwm, 100000);
    std::string host = options_.host.empty() ? guess_host() : options_.host;
    data_in_.bind(!options_.listen.empty()
                      ? options_.listen
                      : "tcp://" + (host == "127.0.0.1" ? host : std::string("*")) + ":0");
    std::string bound = data_in_.get(zmq::sockopt::last_endpoint);
    data_endpoint_ = "tcp://" + host + bound.substr(bound.rfind(':'));

    // Step 1: register and wait to be started.
    send_register();
    if (!await_start()) return 1;

    // Step 2: run the shards while this thread moves messages.
    std::unique_ptr<void, void (*)(void*)> params(program_.new_params(), program_.delete_params);
    for (const std::string& p : params_) {
      std::string error, name = p.substr(0, p.find('=')), value = p.substr(p.find('=') + 1);
      if (!program_.set_param(params.get(), name, value, error)) {
        std::cerr << "worker: error: the controller sent a bad parameter '" << p << "': " << error << "\n";
        return 1;
      }
    }
    program_.bind(params.get());
    Outputs outputs(program_);
    outbox_ = std::make_unique<Outbox>(program_);
    RunConfig config;
    config.threads = options_.threads;
    config.worker = id_;
    config.workers = static_cast<int>(peers_.size());
    config.map = &map_;
    config.peers = outbox_.get();
    config.slowdown = options_.slowdown;
    config.until_ended = true;  // a partition may migrate here after this worker ran all it had
    config.on_idle = [this] { outbox_->wake(); };
    LocalScheduler scheduler(program_, params.get(), config, outputs);
    scheduler_ = &scheduler;
    outputs_ = &outputs;
    std::string failure;
    std::thread compute([&] {
      try {
        scheduler.run();
      } catch (const std::exception& e) {
        failure = e.what();
      }
      finished_ = true;
      outbox_->wake();
    });
    bool ended = serve();
    if (ended) scheduler.end();
    compute.join();
    if (!failure.empty() && !told_to_stop_) {
      // Said before it is reported, so the controller's summary comes last.
      std::cerr << "worker " << id_ << ": error: " << failure << "\n";
      send_failure(failure);
      await_shutdown();
    }
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
    zmq::message_t frame = to_frame(message);
    (void)control_.send(frame, zmq::send_flags::dontwait);
  }

  void send_register() {
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<wire::Envelope>().initRegister();
    r.setJob(program_.job);
    r.setDataEndpoint(data_endpoint_);
    r.setThreads(options_.threads);
    r.setSlowdown(options_.slowdown);
    send_envelope(message);
  }

  bool await_start() {
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
      if (!control_.recv(frame, zmq::recv_flags::dontwait)) continue;
      bool started = false, refused = false;
      std::string error = with_envelope(frame, [&](wire::Envelope::Reader e) {
        if (e.isShutdown()) {
          refused = true;
          std::cerr << "worker: the controller refused this worker: " << e.getShutdown().getReason().cStr()
                    << "\n";
        }
        if (e.isStart()) started = apply_start(e.getStart());
      });
      if (!error.empty()) dropped_.about(error);
      if (refused) return false;
      if (started) return true;
    }
    std::cerr << "worker: error: no answer from the controller at " << options_.controller << " within "
              << options_.timeout_s
              << " s; is it running, and is the address right? (--timeout to wait longer)\n";
    return false;
  }

  bool apply_start(wire::Start::Reader s) {
    id_ = s.getWorker();
    for (auto p : s.getParams()) params_.emplace_back(p.cStr());
    for (auto p : s.getPeers()) peers_.emplace_back(p.cStr());
    if (id_ >= peers_.size()) return false;
    std::string error = decode_map(s.getMap(), peers_.size(), map_);
    if (!error.empty()) {
      dropped_.about("a start message with " + error);
      return false;
    }
    for (std::size_t w = 0; w < peers_.size(); ++w) {
      auto& socket = push_.emplace_back(context_, zmq::socket_type::push);
      socket.set(zmq::sockopt::linger, 5000);
      socket.set(zmq::sockopt::sndhwm, 10000);
      if (w != id_) socket.connect(peers_[w]);
    }
    pending_.resize(peers_.size());
    return true;
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
    if (items[2].revents & ZMQ_POLLIN)
      for (auto& [w, frame] : outbox_->take()) pending_[w].push_back(std::move(frame));
    send_pending();
    if (items[1].revents & ZMQ_POLLIN) receive_data();
    if (!(items[0].revents & ZMQ_POLLIN)) return false;
    receive_control(shutdown);
    return true;
  }

  // The I/O loop while the shards run, with heartbeats both ways, load
  // reports, and Done whenever the shards have run all they hold. Returns
  // true when the controller ends the job, false on a failure.
  bool serve() {
    Clock::time_point last_heartbeat = Clock::now(), last_contact = Clock::now(), last_report = Clock::now();
    while (!finished_) {
      bool shutdown = false;
      if (move_data(shutdown)) last_contact = Clock::now();
      if (shutdown) {
        told_to_stop_ = true;
        return ended_;
      }
      if (!reported_idle_ && scheduler_->idle()) {
        send_done();
        reported_idle_ = true;
      }
      if (seconds_since(last_heartbeat) > 0.5) {
        capnp::MallocMessageBuilder message;
        message.initRoot<wire::Envelope>().initHeartbeat().setWorker(id_);
        send_envelope(message);
        last_heartbeat = Clock::now();
      }
      if (seconds_since(last_report) > kLoadReportSeconds) {
        send_load_report();
        last_report = Clock::now();
      }
      if (seconds_since(last_contact) > options_.timeout_s) {
        std::cerr << "worker " << id_ << ": error: the controller has been silent for " << options_.timeout_s
                  << " s; giving up\n";
        scheduler_->stop("the controller was lost");
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
    r.setTasks(scheduler_->tasks_done());
    double busy = scheduler_->busy_seconds();
    r.setBusySeconds(busy);
    r.setIdleSeconds(std::max(0.0, seconds_since(started_) * options_.threads - busy));
    std::vector<GroupLoad> loads = scheduler_->group_loads();
    auto groups = r.initGroups(loads.size());
    for (std::size_t i = 0; i < loads.size(); ++i) {
      groups[i].setGroup(loads[i].group);
      groups[i].setPartition(loads[i].partition);
      groups[i].setCpuSeconds(loads[i].cpu_s);
      groups[i].setTasks(loads[i].tasks);
    }
    send_envelope(message);
  }

  // Sends what waits for each peer without blocking: a full peer (at its
  // high-water mark) keeps its frames here until it takes more, so nothing
  // is dropped and this thread keeps receiving meanwhile.
  void send_pending() {
    for (std::size_t w = 0; w < pending_.size(); ++w) {
      while (!pending_[w].empty()) {
        if (!push_[w].send(pending_[w].front(), zmq::send_flags::dontwait)) break;
        pending_[w].pop_front();
      }
    }
  }

  void receive_data() {
    zmq::message_t frame;
    while (data_in_.recv(frame, zmq::recv_flags::dontwait)) {
      std::string problem;
      std::string error = with_envelope(frame, [&](wire::Envelope::Reader e) {
        if (e.isData()) {
          Message m(Message::Kind::Signal, 0, 0);
          problem = decode_data(e.getData(), program_, m);
          if (problem.empty()) problem = scheduler_->deliver(std::move(m));
        } else if (e.isHandover()) {
          problem = adopt(e.getHandover());
        } else {
          problem = "not a data message";
        }
      });
      if (error.empty()) error = problem;
      if (!error.empty()) dropped_.about(error);
    }
  }

  void receive_control(bool& shutdown) {
    zmq::message_t frame;
    while (control_.recv(frame, zmq::recv_flags::dontwait)) {
      std::string error = with_envelope(frame, [&](wire::Envelope::Reader e) {
        if (e.isShutdown()) {
          shutdown = true;
          std::string reason = e.getShutdown().getReason().cStr();
          // An empty reason: the job is complete (it follows every worker's Done).
          ended_ = reason.empty() && reported_idle_;
          if (scheduler_ && !ended_)
            scheduler_->stop(reason.empty() ? "the controller ended the job" : reason);
        }
        if (e.isMigrate() && scheduler_) {
          auto m = e.getMigrate();
          std::string problem =
              m.getGroup() > INT32_MAX || m.getPartition() > INT32_MAX || m.getTo() > INT32_MAX
                  ? "out of range"
                  : scheduler_->migrate(static_cast<int>(m.getGroup()), static_cast<int>(m.getPartition()),
                                        static_cast<int>(m.getTo()), m.getVersion());
          if (!problem.empty()) dropped_.about("a migration: " + problem);
        }
        if (e.isMapUpdate() && scheduler_) {
          PartitionMap update;
          std::string problem = decode_map(e.getMapUpdate().getMap(), peers_.size(), update);
          if (problem.empty()) problem = scheduler_->update_map(update);
          if (!problem.empty()) dropped_.about("a map update: " + problem);
        }
      });
      if (!error.empty()) dropped_.about(error);
    }
  }

  void send_failure(const std::string& what) {
    capnp::MallocMessageBuilder message;
    auto f = message.initRoot<wire::Envelope>().initFailure();
    f.setWorker(id_);
    f.setMessage(what);
    send_envelope(message);
  }

  void send_done() {
    RunStats stats = scheduler_->stats();
    capnp::MallocMessageBuilder message;
    auto d = message.initRoot<wire::Envelope>().initDone();
    d.setWorker(id_);
    d.setTasks(stats.tasks);
    d.setSchedulerCpuS(stats.scheduler_cpu_s);
    d.setTaskCpuS(stats.task_cpu_s);
    d.setForwarded(scheduler_->forwarded());
    d.setHeld(scheduler_->held());
    std::vector<Outputs::Entry> entries = outputs_->entries();
    auto list = d.initOutputs(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      list[i].setKey(entries[i].key);
      list[i].setStage(entries[i].stage);
      list[i].setIndex(entries[i].index);
      list[i].setJson(entries[i].json);
      list[i].setSeq(entries[i].seq);
    }
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
    problem = scheduler_->adopt(std::move(h));
    if (!problem.empty()) return problem;
    reported_idle_ = false;
    capnp::MallocMessageBuilder message;
    auto m = message.initRoot<wire::Envelope>().initMigrated();
    m.setWorker(id_);
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
  zmq::context_t context_;
  zmq::socket_t control_{context_, zmq::socket_type::dealer};
  zmq::socket_t data_in_{context_, zmq::socket_type::pull};
  std::vector<zmq::socket_t> push_;
  std::vector<std::deque<zmq::message_t>> pending_;
  std::string data_endpoint_;
  unsigned id_ = 0;
  std::vector<std::string> params_;
  std::vector<std::string> peers_;
  PartitionMap map_;
  std::unique_ptr<Outbox> outbox_;
  LocalScheduler* scheduler_ = nullptr;
  const Outputs* outputs_ = nullptr;
  std::atomic<bool> finished_{false};  // the compute threads stopped (a failure)
  bool reported_idle_ = false;         // Done sent, and nothing adopted since
  bool ended_ = false;                 // the controller ended the job
  bool told_to_stop_ = false;          // the controller ended it, well or not
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
