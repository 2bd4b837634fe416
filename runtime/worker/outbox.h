// Frames the compute threads want sent, handed to the worker's I/O thread,
// which alone touches the sockets: the shards' way out (docs/runtime.md:
// wire -> router -> inbox -> shard -> outbox). An eventfd wakes the I/O
// thread. Encoding happens on the calling compute thread.
#pragma once

#include <canary/program.h>

#include <deque>
#include <mutex>
#include <utility>

#include "scheduler/local_scheduler.h"
#include "wire/codec.h"

namespace canary::rt {

// Where take() puts a frame for the controller.
constexpr WorkerId kToController{-1};

class Outbox : public Peers, public CentralDispatch {
 public:
  explicit Outbox(const Program& program);
  ~Outbox() override;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Both stamped with the epoch and this worker's number.
  void send(WorkerId worker, const Message& m) override;
  void hand_over(WorkerId worker, const Handover& h) override;
  void report(int shard, const std::vector<TaskId>& finished, const std::vector<TaskId>& ready) override;
  // Only while no compute thread runs (between two schedulers).
  void set_sender(WorkerId worker, Epoch epoch);

  void wake();
  int fd() const { return wake_; }
  std::deque<std::pair<WorkerId, Frames>> take();

 private:
  void post(WorkerId worker, Frames frames);

  const Program& program_;
  WorkerId worker_{0};
  Epoch epoch_{0};
  int wake_;
  std::mutex mutex_;
  std::deque<std::pair<WorkerId, Frames>> queue_;
};

}  // namespace canary::rt
