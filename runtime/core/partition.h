// The partitions a worker holds: each one a value of a type only its
// dataset's TypeOps know (canaryc generates them), owned, so that it is
// destroyed exactly once, whichever shard, handover or rollback held it
// last.
#pragma once

#include <canary/program.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"

namespace canary::rt {

class Partition {
 public:
  Partition() = default;
  explicit Partition(const TypeOps* ops) : ops_(ops), value_(ops->create()) {}
  Partition(Partition&& other) noexcept : ops_(other.ops_), value_(std::exchange(other.value_, nullptr)) {}
  Partition& operator=(Partition&& other) noexcept {
    if (this != &other) {
      reset();
      ops_ = other.ops_;
      value_ = std::exchange(other.value_, nullptr);
    }
    return *this;
  }
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;
  ~Partition() { reset(); }

  void* get() const { return value_; }
  explicit operator bool() const { return value_ != nullptr; }
  std::string bytes() const {
    std::string out;
    ops_->write(value_, out);
    return out;
  }
  // Replaces the value with the one in `bytes`; throws on malformed bytes.
  void read(const Bytes& bytes) { ops_->read(bytes.pieces(), value_); }

 private:
  void reset() {
    if (value_) ops_->destroy(value_);
    value_ = nullptr;
  }
  const TypeOps* ops_ = nullptr;
  void* value_ = nullptr;
};

// Partition i of dataset d, for every (d, i) this worker holds; empty for
// the others. A partition is touched only by the shard that holds it.
class PartitionTable {
 public:
  PartitionTable() = default;
  PartitionTable(const Program& program, const std::vector<int>& partitions_of) {
    for (std::size_t d = 0; d < program.datasets.size(); ++d) table_.emplace_back(partitions_of[d]);
  }
  Partition& at(int dataset, int index) { return table_[dataset][index]; }
  void* get(int dataset, int index) const { return table_[dataset][index].get(); }

 private:
  std::vector<std::vector<Partition>> table_;  // [dataset][partition]
};

}  // namespace canary::rt
