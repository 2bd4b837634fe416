#include "worker/outbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace canary::rt {

Outbox::Outbox(const Program& program) : program_(program), wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Outbox::~Outbox() { close(wake_); }

void Outbox::send(WorkerId worker, const Message& m) { post(worker, encode_data(epoch_, m, program_)); }

void Outbox::hand_over(WorkerId worker, const Handover& h) {
  post(worker, encode_handover(epoch_, h, program_));
}

void Outbox::report(int shard, const std::vector<TaskId>& finished, const std::vector<TaskId>& ready) {
  post(kToController, encode(msg::TaskReport{worker_, shard, finished, ready}));
}

void Outbox::set_sender(WorkerId worker, Epoch epoch) {
  worker_ = worker;
  epoch_ = epoch;
}

void Outbox::wake() {
  std::uint64_t one = 1;
  (void)!::write(wake_, &one, sizeof one);
}

std::deque<std::pair<WorkerId, Frames>> Outbox::take() {
  std::uint64_t count;
  (void)!::read(wake_, &count, sizeof count);
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(queue_, {});
}

void Outbox::post(WorkerId worker, Frames frames) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.emplace_back(worker, std::move(frames));
  }
  wake();
}

}  // namespace canary::rt
