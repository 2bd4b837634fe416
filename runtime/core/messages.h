// What crosses between the runtime's parts, as plain values: data between
// workers (Message), a partition group moving between them (Handover), a
// task named for central dispatch (TaskId), and what workers tell the
// controller about their load and progress. The wire codec (wire/codec.h)
// turns each into bytes and back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/ids.h"

namespace canary::rt {

// One message per stage instance and destination, never one per task:
// scatter chunks, a reduction's input, a broadcast's value, a signal's value.
struct Message {
  enum class Kind { Chunks, ReduceInput, BroadcastValue, Signal };
  Message(Kind k, Seq s, StageId st, PartitionIndex from = PartitionIndex(0))
      : kind(k), seq(s), stage(st), sender(from) {}
  Kind kind;
  Seq seq;                      // the stage instance it belongs to
  StageId stage;                // that instance's stage
  PartitionIndex sender;        // the sending task's partition
  std::vector<int> iterations;  // of the loops around the stage, outermost first
  // The destination partitions the message is for, each with the version of
  // the sender's map entry for it. Chunks: every partition the sender
  // believes the receiver holds, with the (maybe empty) values for it, so the
  // receiver knows that sender is done with it; ReduceInput: partition 0 of
  // the result; BroadcastValue: the partitions to copy the value into.
  struct Part {
    PartitionIndex partition;
    Version version;
    Bytes bytes;
  };
  std::vector<Part> parts;
  Bytes value;          // ReduceInput, BroadcastValue
  bool signal = false;  // Signal

  // The same message with other parts: what a part-by-part decision splits off.
  Message with_parts(std::vector<Part> others) const {
    Message m(kind, seq, stage, sender);
    m.iterations = iterations;
    m.value = value;
    m.signal = signal;
    m.parts = std::move(others);
    return m;
  }
};

// One dataset's partition as bytes, with how far it got: what a handover
// carries and a snapshot file holds.
struct PartitionBytes {
  DatasetId dataset;
  std::uint64_t accesses;  // completed: the stage instances it has been through (the paper's "last stage")
  Bytes bytes;             // the serialized partition
};

// Partition i of every dataset of a co-location group, on its way from one
// worker to another (migration, step 3).
struct Handover {
  GroupPartition which;
  Version version;                       // of the map entry that names the receiver
  std::vector<PartitionBytes> datasets;  // every dataset of the group
  // What had arrived for the partitions and was not used yet: chunks,
  // reduction inputs, broadcast values.
  std::vector<Message> pending;
};

// Where a snapshot cuts the run: every stage instance before `seq` is
// complete on every partition, none from `seq` on has started.
struct Cut {
  int snapshot = 0;           // the k-th cut of the run; 0: its start, which needs no files
  std::uint64_t seq = 0;      // the first stage instance after the cut
  std::vector<bool> signals;  // the values of the signal instances before it, in order
};

// Central dispatch (controller --dispatch=central): a task is named by its
// stage instance and its slot there (its partition index, or the instance's
// main task count for a reduce's, broadcast's or signal's single task).
struct TaskId {
  Seq seq;
  int slot;
};

// The tasks run on one partition group here so far, and their CPU time.
struct GroupLoad {
  GroupPartition which;
  std::uint64_t tasks;
  double cpu_s;
};

// How far a stage has got on a worker, for people watching (the
// controller's progress line and --http): its newest run (stage instance)
// in which a task finished, and how many of that run's tasks finished. The
// tasks that count are one per partition (a signal's one task; not a
// reduce's combine, nor a broadcast's send), as the graph's `partitions`.
struct StageProgress {
  StageId stage;
  std::uint64_t run;  // the instance's number plus one; 0: nothing finished yet
  int iteration;      // of the outermost loop around the stage, from 0; -1 outside loops
  int done;

  // Folds in another shard's or worker's view of the same stage: the newer
  // run is the stage's, and the tasks of one run add up.
  void add(const StageProgress& other) {
    if (other.run > run)
      *this = other;
    else if (other.run == run && run > 0)
      done += other.done;
  }
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
  // What arrived for the shards' partitions and was never used, when they
  // ran to the end: 0, unless a message went astray.
  std::uint64_t unused_messages = 0;
};

}  // namespace canary::rt
