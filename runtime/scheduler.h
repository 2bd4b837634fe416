// The worker's local scheduler (paper sections 4.1 to 4.3).
//
// Every compute thread is a shard: it owns some partitions of every
// co-location group, holds its own copy of the program's control state, and
// unrolls the static block structure into the same numbered sequence of stage
// instances as every other shard. For each partition it owns it counts the
// completed accesses (the paper's "last stage that touched it"), so a task is
// ready the moment each partition it touches has reached its turn. Shards
// share no scheduling state: what crosses partitions (scatter chunks with
// their end-of-scatter marker, reduction inputs, broadcast values, signal
// values) travels as one message per stage instance and destination shard.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace canary::rt {

// Collects t.output() values: per key, the value of each partition index.
class Outputs : public detail::OutputSink {
 public:
  explicit Outputs(const Program& program) : program_(program) {}
  void add(int stage, int index, const std::string& key, std::string json) override;
  // {key: value} as JSON text; a key made by a stage with more than one
  // partition becomes a list ordered by partition index.
  std::string to_json() const;

 private:
  struct Values {
    bool list = false;
    std::map<int, std::string> by_index;
  };
  const Program& program_;
  mutable std::mutex mutex_;
  std::map<std::string, Values> values_;
};

struct RunStats {
  double elapsed_s = 0;
  std::uint64_t tasks = 0;
  std::uint64_t stage_instances = 0;  // as unrolled by one shard
  std::vector<std::uint64_t> tasks_per_thread;
  // CPU time the compute threads spent outside task bodies (scheduling,
  // messaging) and inside them.
  double scheduler_cpu_s = 0;
  double task_cpu_s = 0;
};

struct RunConfig {
  int threads = 1;
  // How many unfinished stage instances a shard may have issued.
  int window = 64;
};

class LocalScheduler {
 public:
  LocalScheduler(const Program& program, const void* params, RunConfig config, Outputs& outputs);
  ~LocalScheduler();
  LocalScheduler(const LocalScheduler&) = delete;
  LocalScheduler& operator=(const LocalScheduler&) = delete;

  // Runs the job to its end. Throws std::runtime_error when a task fails.
  RunStats run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace canary::rt
