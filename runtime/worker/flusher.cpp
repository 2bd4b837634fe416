#include "worker/flusher.h"

#include <map>
#include <utility>

namespace canary::rt {

SnapshotFlusher::SnapshotFlusher(std::function<void()> flushed)
    : flushed_(std::move(flushed)), thread_([this] { run(); }) {}

SnapshotFlusher::~SnapshotFlusher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_one();
  thread_.join();
}

void SnapshotFlusher::flush(Batch written) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_.push_back(std::move(written));
  }
  wanted_.notify_one();
}

std::vector<SnapshotFlusher::Batch> SnapshotFlusher::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(done_, {});
}

// One syncfs covers every batch of a snapshot waiting when it starts: all
// their files are written by then.
void SnapshotFlusher::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wanted_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty()) return;
    std::deque<Batch> batches = std::exchange(waiting_, {});
    lock.unlock();
    std::map<int, Status> synced;
    for (Batch& b : batches) {
      auto it = synced.find(b.snapshot);
      if (it == synced.end()) it = synced.emplace(b.snapshot, b.store.flush(b.snapshot)).first;
      if (!it->second.ok()) b.error = it->second.why();
    }
    lock.lock();
    for (Batch& b : batches) done_.push_back(std::move(b));
    lock.unlock();
    flushed_();
    lock.lock();
  }
}

}  // namespace canary::rt
