// What reaches a shard from outside its own thread, in order: messages the
// router hands it, and the orders of migrations, snapshots and central
// dispatch. The inbox is the only thing a shard shares, and it is locked
// once per batch, never per task.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>
#include <variant>
#include <vector>

#include "core/messages.h"
#include "core/partition.h"

namespace canary::rt {

// Migration, step 2 on the source: the shard holding the partitions lets
// them go.
struct Release {
  GroupPartition which;
  WorkerId to;
  Version version;
};
// Migration, step 4 on the destination: the chosen shard takes them.
struct Install {
  GroupPartition which;
  struct Dataset {
    int dataset;
    std::uint64_t accesses;  // completed
    Partition value;
  };
  std::vector<Dataset> datasets;
};
// Snapshots, step 4: snapshots up to this one are complete.
struct Resume {
  int snapshot;
};
// Central dispatch: the controller launches these tasks.
struct Launch {
  std::vector<TaskId> tasks;
};
using Item = std::variant<Message, Release, Install, Resume, Launch>;

class Inbox {
 public:
  void push(Item m) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(m));
      pending_.store(true, std::memory_order_release);
    }
    ready_.notify_one();
  }
  bool has_messages() const { return pending_.load(std::memory_order_acquire); }
  std::deque<Item> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.store(false, std::memory_order_relaxed);
    return std::exchange(queue_, {});
  }
  // Until something arrives, or `stop` or `ended` is set (then wake() it).
  void wait(const std::atomic<bool>& stop, const std::atomic<bool>& ended) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || stop.load() || ended.load(); });
  }
  void wake() {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Item> queue_;
  std::atomic<bool> pending_{false};
};

}  // namespace canary::rt
