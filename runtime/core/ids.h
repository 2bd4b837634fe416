// The numbers the runtime's parts pass each other, each a type of its own:
// a worker's number cannot be passed where a partition's is meant, nor an
// instance's sequence number where a map entry's version is. One name per
// id, everywhere (docs/runtime.md's glossary).
#pragma once

#include <cstdint>
#include <functional>

namespace canary::rt {

template <class Tag, class Rep = int>
class Id {
 public:
  using rep = Rep;
  constexpr Id() = default;
  constexpr explicit Id(Rep value) : value_(value) {}
  constexpr Rep value() const { return value_; }
  friend constexpr bool operator==(Id a, Id b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(Id a, Id b) { return a.value_ != b.value_; }
  friend constexpr bool operator<(Id a, Id b) { return a.value_ < b.value_; }
  friend constexpr bool operator<=(Id a, Id b) { return a.value_ <= b.value_; }
  friend constexpr bool operator>(Id a, Id b) { return a.value_ > b.value_; }
  friend constexpr bool operator>=(Id a, Id b) { return a.value_ >= b.value_; }

 private:
  Rep value_{};
};

using WorkerId = Id<struct WorkerTag>;                 // a worker's number in the partition map
using GroupId = Id<struct GroupTag>;                   // a co-location group
using PartitionIndex = Id<struct PartitionTag>;        // partition i of a dataset (or of a group)
using DatasetId = Id<struct DatasetTag>;               // a dataset of the program
using StageId = Id<struct StageTag>;                   // a stage of the program
using Seq = Id<struct SeqTag, std::uint64_t>;          // a stage instance: every shard numbers them alike
using Version = Id<struct VersionTag, std::uint64_t>;  // of a partition map entry; only goes up
using Epoch = Id<struct EpochTag, std::uint64_t>;      // goes up with every rollback

// Partition i of every dataset of a co-location group: what lives on one
// worker, migrates, and is written to a snapshot as one.
struct GroupPartition {
  GroupId group;
  PartitionIndex partition;
  friend bool operator==(GroupPartition a, GroupPartition b) {
    return a.group == b.group && a.partition == b.partition;
  }
  friend bool operator!=(GroupPartition a, GroupPartition b) { return !(a == b); }
  friend bool operator<(GroupPartition a, GroupPartition b) {
    return a.group < b.group || (a.group == b.group && a.partition < b.partition);
  }
};

}  // namespace canary::rt

template <class Tag, class Rep>
struct std::hash<canary::rt::Id<Tag, Rep>> {
  std::size_t operator()(canary::rt::Id<Tag, Rep> id) const { return std::hash<Rep>()(id.value()); }
};
