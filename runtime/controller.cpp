#include "controller.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "balancer.h"
#include "results.h"
#include "scheduler.h"
#include "wire.h"

namespace canary::rt {

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
  Clock::time_point last_seen;
  bool done = false;      // it reported Done and nothing migrated to it since
  WorkerSummary summary;  // tasks from its load reports, the rest from Done
};

class Controller {
 public:
  Controller(const Program& program, const void* params, const ControllerOptions& options)
      : program_(program),
        params_(params),
        options_(options),
        outputs_(program),
        chaos_(options.chaos_seed) {}

  int run() {
    socket_.set(zmq::sockopt::router_mandatory, 1);
    socket_.set(zmq::sockopt::sndtimeo, 1000);
    socket_.set(zmq::sockopt::linger, 1000);
    socket_.bind(options_.listen);
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
  std::string poll(std::chrono::milliseconds wait, Handle&& handle) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    if (!(item.revents & ZMQ_POLLIN)) return "";
    zmq::message_t identity, frame;
    if (!socket_.recv(identity, zmq::recv_flags::dontwait)) return "";
    if (!identity.more() || !socket_.recv(frame, zmq::recv_flags::dontwait)) return "";
    while (frame.more()) {  // nothing of ours has more parts: discard the rest
      zmq::message_t rest;
      if (!socket_.recv(rest, zmq::recv_flags::dontwait)) break;
    }
    std::string who = identity.to_string();
    std::string bad = with_envelope(frame, [&](wire::Envelope::Reader e) { handle(who, e); });
    if (!bad.empty()) dropped_.about(bad);
    return "";
  }

  void send(const std::string& identity, capnp::MessageBuilder& message) {
    zmq::message_t frame = to_frame(message);
    try {
      (void)socket_.send(zmq::buffer(identity), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      (void)socket_.send(frame, zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
      // EHOSTUNREACH: that peer is gone; its heartbeat timeout will say so.
    }
  }

  int worker_of(const std::string& identity) const {
    for (std::size_t w = 0; w < workers_.size(); ++w)
      if (workers_[w].identity == identity) return static_cast<int>(w);
    return -1;
  }

  std::string await_workers() {
    Clock::time_point reported = Clock::now();
    while (static_cast<int>(workers_.size()) < options_.expect) {
      if (seconds_since(started_) > options_.timeout_s)
        return std::to_string(workers_.size()) + " of " + std::to_string(options_.expect) +
               " workers registered within " + std::to_string(static_cast<int>(options_.timeout_s)) +
               " s; start the others with `" + program_.job +
               " worker --controller ENDPOINT`, or give --timeout";
      if (options_.watch) {
        std::string problem = options_.watch();
        if (!problem.empty()) return problem;
      }
      if (seconds_since(reported) > 5) {
        std::cerr << "controller: " << workers_.size() << " of " << options_.expect
                  << " workers registered\n";
        reported = Clock::now();
      }
      poll(std::chrono::milliseconds(100), [&](const std::string& who, wire::Envelope::Reader e) {
        if (!e.isRegister()) return;
        auto r = e.getRegister();
        if (r.getJob() != program_.job) {
          capnp::MallocMessageBuilder refusal;
          refusal.initRoot<wire::Envelope>().initShutdown().setReason(
              std::string("this controller runs job '") + program_.job + "', not '" + r.getJob().cStr() +
              "'");
          send(who, refusal);
          return;
        }
        if (worker_of(who) >= 0) return;  // a repeated registration
        WorkerInfo w;
        w.identity = who;
        w.data_endpoint = r.getDataEndpoint();
        w.threads = std::max(1u, std::min(r.getThreads(), 1024u));
        w.slowdown = r.getSlowdown();
        w.last_seen = Clock::now();
        workers_.push_back(w);
      });
    }
    return "";
  }

  void start_workers() {
    std::vector<int> threads;
    for (const WorkerInfo& w : workers_) threads.push_back(w.threads);
    map_ = initial_map(program_, params_, threads);
    balancer_.emplace(threads);
    for (std::size_t w = 0; w < workers_.size(); ++w) {
      const PartitionMap& map = static_cast<int>(w) == options_.stale_map_worker ? stale_map(w) : map_;
      capnp::MallocMessageBuilder message;
      auto s = message.initRoot<wire::Envelope>().initStart();
      s.setWorker(static_cast<unsigned>(w));
      auto params = s.initParams(options_.params.size());
      for (std::size_t i = 0; i < options_.params.size(); ++i) params.set(i, options_.params[i]);
      auto peers = s.initPeers(workers_.size());
      for (std::size_t p = 0; p < workers_.size(); ++p) peers.set(p, workers_[p].data_endpoint);
      encode_map(map, s.initMap(map_entries(map)));
      send(workers_[w].identity, message);
    }
    std::cerr << "controller: started " << workers_.size() << " worker(s)\n";
    running_since_ = Clock::now();
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
    Clock::time_point last_heartbeat = Clock::now(), last_progress = Clock::now();
    bool stale_fixed = options_.stale_map_worker < 0;
    std::string failure;
    Clock::time_point last_chaos = Clock::now(), last_balance = Clock::now();
    while (failure.empty()) {
      bool all_done = !moving_;
      for (const WorkerInfo& w : workers_) all_done &= w.done;
      if (all_done) return "";
      if (options_.chaos_migrate_ms > 0 && !moving_ &&
          seconds_since(last_chaos) * 1000 >= options_.chaos_migrate_ms) {
        chaos_migration();
        last_chaos = Clock::now();
      }
      if (options_.balance && !moving_ && seconds_since(last_balance) >= kBalanceSeconds) {
        if (auto move = balancer_->decide()) migrate(move->group, move->partition, move->to);
        last_balance = Clock::now();
      }
      if (seconds_since(last_heartbeat) > 0.5) {
        for (const WorkerInfo& w : workers_) {
          capnp::MallocMessageBuilder message;
          message.initRoot<wire::Envelope>().initHeartbeat().setWorker(0);
          send(w.identity, message);
        }
        last_heartbeat = Clock::now();
      }
      for (std::size_t w = 0; w < workers_.size(); ++w)
        if (!workers_[w].done && seconds_since(workers_[w].last_seen) > options_.timeout_s)
          return "worker " + std::to_string(w) + " (" + workers_[w].data_endpoint + ") has been silent for " +
                 std::to_string(static_cast<int>(options_.timeout_s)) + " s: it is lost";
      if (options_.watch) failure = options_.watch();
      if (seconds_since(last_progress) > 5) {  // a long job says how it goes
        std::uint64_t tasks = 0;
        std::string per_worker;
        for (const WorkerInfo& w : workers_) {
          tasks += w.summary.tasks;
          per_worker += (per_worker.empty() ? "" : ", ") + std::to_string(w.summary.tasks);
        }
        std::cerr << "controller: " << static_cast<int>(seconds_since(running_since_)) << " s, " << tasks
                  << " tasks done (per worker: " << per_worker << ")\n";
        last_progress = Clock::now();
      }
      if (!stale_fixed && seconds_since(running_since_) * 1000 > options_.stale_map_ms &&
          options_.stale_map_worker < static_cast<int>(workers_.size())) {
        send_map_update(options_.stale_map_worker);
        stale_fixed = true;
      }
      int wait_ms = options_.chaos_migrate_ms > 0 ? std::min(options_.chaos_migrate_ms, 100) : 100;
      poll(std::chrono::milliseconds(wait_ms), [&](const std::string& who, wire::Envelope::Reader e) {
        int w = worker_of(who);
        if (w < 0) return;  // not one of ours
        WorkerInfo& info = workers_[w];
        info.last_seen = Clock::now();
        if (e.isLoadReport()) load_report(w, e.getLoadReport());
        if (e.isFailure())
          failure = "worker " + std::to_string(w) + ": " + e.getFailure().getMessage().cStr();
        if (e.isMigrated()) migrated(w, e.getMigrated());
        if (e.isDone()) {  // again after a migration brought it more
          auto d = e.getDone();
          info.done = true;
          info.summary = {d.getTasks(), d.getSchedulerCpuS(), d.getTaskCpuS(), d.getForwarded(), d.getHeld()};
          for (auto o : d.getOutputs()) {
            if (o.getStage() >= program_.stages.size()) continue;
            outputs_.add(o.getSeq(), o.getStage(), o.getIndex(), o.getKey(), o.getJson());
          }
        }
      });
    }
    return failure;
  }

  void load_report(int worker, wire::LoadReport::Reader r) {
    workers_[worker].summary.tasks = r.getTasks();
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
      if (static_cast<int>(w) != from) send_map_update(w);
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
    if (workers_.size() < 2) return;
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(chaos_); };
    int group = static_cast<int>(pick(map_.owner.size()));
    int partition = static_cast<int>(pick(map_.owner[group].size()));
    int to = static_cast<int>(pick(workers_.size() - 1));
    if (to >= map_.owner[group][partition]) ++to;  // any worker but the one holding it
    migrate(group, partition, to);
  }

  void shutdown_all(const std::string& reason) {
    for (const WorkerInfo& w : workers_) {
      capnp::MallocMessageBuilder message;
      message.initRoot<wire::Envelope>().initShutdown().setReason(reason);
      send(w.identity, message);
    }
  }

  int fail(const std::string& error) {
    shutdown_all("the job failed: " + error);
    std::cerr << program_.job << ": error: " << error << "\n";
    return 1;
  }

  int finish() {
    shutdown_all("");
    double elapsed = seconds_since(running_since_);
    std::vector<WorkerSummary> summaries;
    for (const WorkerInfo& w : workers_) summaries.push_back(w.summary);
    nlohmann::ordered_json stats = stats_json(elapsed, summaries, static_cast<int>(moves_.size()));
    stats["moves"] = moves_;
    stats["slowdown_per_worker"] = nlohmann::ordered_json::array();
    for (const WorkerInfo& w : workers_) stats["slowdown_per_worker"].push_back(w.slowdown);
    return report_results(program_, outputs_, stats, options_.results, elapsed, stats["tasks"],
                          std::to_string(workers_.size()) + " worker(s)");
  }

  const Program& program_;
  const void* params_;
  ControllerOptions options_;
  Outputs outputs_;
  zmq::context_t context_;
  zmq::socket_t socket_{context_, zmq::socket_type::router};
  std::vector<WorkerInfo> workers_;
  PartitionMap map_, stale_;
  struct Moving {
    int group, partition, from, to;
    std::uint64_t version;
  };
  std::optional<Moving> moving_;                                    // the migration under way
  nlohmann::ordered_json moves_ = nlohmann::ordered_json::array();  // those done
  std::optional<Balancer> balancer_;
  static constexpr double kBalanceSeconds = 0.2;
  std::mt19937 chaos_;
  Clock::time_point started_, running_since_;
  DropLog dropped_{"controller"};
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
