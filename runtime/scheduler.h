// The worker's local scheduler (paper section 4.1 and 4.3): it unrolls the
// program's static block structure into stage instances, tracks for every
// partition how far its accesses have got, and runs each task as soon as the
// partitions it touches (and the chunks it merges) are ready, on a pool of
// compute threads. No message to anyone is needed to decide what runs next.
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
  std::uint64_t stage_instances = 0;
  // CPU time the compute threads spent outside task bodies (scheduling),
  // and inside them.
  double scheduler_cpu_s = 0;
  double task_cpu_s = 0;
};

struct RunConfig {
  int threads = 1;
  // How many stage instances may be issued ahead of the oldest unfinished one.
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
