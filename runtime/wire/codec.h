// Every message of the wire (wire.capnp) as a plain value, with its encoder
// beside its decoder in codec.cpp: one home per message. Decoding never
// trusts its input: sizes are capped (frame.h), Cap'n Proto's reader limits
// apply, numbers are range-checked, data is checked against the program,
// and whatever is wrong comes back as an error value.
#pragma once

#include <canary/program.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/ids.h"
#include "core/messages.h"
#include "core/outputs.h"
#include "core/partition_map.h"
#include "core/result.h"
#include "wire/frame.h"

namespace canary::rt {
namespace msg {

// Worker -> controller, until it is started.
struct Register {
  std::string job;            // a worker of another job is refused
  std::string data_endpoint;  // where the other workers reach it
  int threads = 1;
  double slowdown = 1;    // tests: its tasks are made this many times slower
  int pid = 0;            // for a controller that started it on this machine
  std::vector<int> cpus;  // its compute threads' CPUs (worker --cpus, --numa-node); empty: not pinned
  int numa_node = -1;
  // The lowest epoch it can be started in: 0 when new, above the one it ran
  // in when it lost its controller (a resuming controller starts there).
  Epoch next_epoch{0};
};
// Controller -> worker: the start, and every rollback (recovery, step 2).
struct Start {
  WorkerId worker;
  std::vector<std::string> params;  // "name=value"
  std::vector<std::string> peers;   // data endpoints, by worker; "" for a lost worker
  PartitionMap map;
  Epoch epoch;
  std::string snapshot_dir;  // "" for none
  int snapshot_every = 0;
  int start_at = 0;  // the snapshot to start from; 0: the program's start
  bool central_dispatch = false;
};
struct Heartbeat {
  WorkerId worker;  // from the controller: 0, meaning "still here"
};
// Worker -> worker: a message of the scheduler's.
struct Data {
  Epoch epoch;  // the sender's: older data is dropped, newer waits for this worker's rollback
  Message message;
};
// Worker -> controller: it ran all it holds to the end (again if more came).
struct Done {
  WorkerId worker;
  Epoch epoch;
  std::uint64_t tasks = 0;
  double scheduler_cpu_s = 0, task_cpu_s = 0, process_cpu_s = 0;
  std::uint64_t forwarded = 0, held = 0;  // message parts passed on, and kept for a newer map
  std::vector<Outputs::Entry> outputs;
  std::uint64_t unused = 0;  // RunStats::unused_messages
};
struct Failure {
  WorkerId worker;
  std::string message;
};
struct Shutdown {
  std::string reason;  // empty: the job is complete
};
struct MapUpdate {
  PartitionMap map;
};
// Worker -> controller, ten times a second.
struct LoadReport {
  WorkerId worker;
  Epoch epoch;
  std::uint64_t tasks = 0;
  double busy_s = 0, idle_s = 0;  // its threads' time in task bodies, and the rest, so far
  std::vector<GroupLoad> groups;  // every partition group it holds
  std::vector<StageProgress> stages;
  double scheduler_s = 0;  // its compute threads' CPU time outside task bodies so far
};
// Controller -> the worker a partition group leaves (migration, step 1).
struct Migrate {
  GroupPartition which;
  WorkerId to;
  Version version;
};
// Worker -> worker: the partition group itself (migration, step 3).
struct HandOver {
  Epoch epoch;
  Handover handover;
};
// The receiving worker -> controller: it is installed (migration, step 5).
struct Migrated {
  WorkerId worker;
  Epoch epoch;
  GroupPartition which;
  Version version;
};
// Worker -> controller (snapshots, step 2): partitions written at the cut of
// `snapshot`, and every output so far (a lost worker's must survive it).
struct SnapshotWritten {
  WorkerId worker;
  Epoch epoch;
  int snapshot = 0;
  std::vector<GroupPartition> partitions;
  std::vector<Outputs::Entry> outputs;
  std::string error;  // why it could not write the rest (the disk is full, say); empty: none
  // false: written, so the workers may go on; true: on disk, so the manifest may follow.
  bool durable = false;
};
// Controller -> worker (snapshots, step 4): every partition of `snapshot` is written.
struct Resume {
  int snapshot = 0;
};
// Worker -> controller (recovery, step 3): it started over at `epoch`, or could not (why).
struct Restarted {
  WorkerId worker;
  Epoch epoch;
  std::string error;
};
// Central dispatch: a shard ran `finished` (none or one) and found `ready`
// ready; they wait for a Launch.
struct TaskReport {
  WorkerId worker;
  int shard = 0;
  std::vector<TaskId> finished, ready;
};
struct Launch {
  int shard = 0;
  std::vector<TaskId> tasks;
};

}  // namespace msg

using Envelope =
    std::variant<msg::Register, msg::Start, msg::Heartbeat, msg::Data, msg::Done, msg::Failure, msg::Shutdown,
                 msg::MapUpdate, msg::LoadReport, msg::Migrate, msg::HandOver, msg::Migrated,
                 msg::SnapshotWritten, msg::Resume, msg::Restarted, msg::TaskReport, msg::Launch>;

// Control messages, in pieces of the control sockets' size.
Frames encode(const msg::Register& m);
Frames encode(const msg::Start& m);
Frames encode(const msg::Heartbeat& m);
Frames encode(const msg::Done& m);
Frames encode(const msg::Failure& m);
Frames encode(const msg::Shutdown& m);
Frames encode(const msg::MapUpdate& m);
Frames encode(const msg::LoadReport& m);
Frames encode(const msg::Migrate& m);
Frames encode(const msg::Migrated& m);
Frames encode(const msg::SnapshotWritten& m);
Frames encode(const msg::Resume& m);
Frames encode(const msg::Restarted& m);
Frames encode(const msg::TaskReport& m);
Frames encode(const msg::Launch& m);
// Data between workers, in the data sockets' pieces, their large blobs as
// attachments that point into `m`'s Bytes.
Frames encode_data(Epoch epoch, const Message& m, const Program& program);
Frames encode_handover(Epoch epoch, const Handover& h, const Program& program);

// What decoding checks against: the program, and how many workers the
// receiver knows (a map entry naming another is refused).
struct DecodeContext {
  const Program& program;
  std::size_t workers;
};
// Takes the attachments out of `message`.
Result<Envelope> decode(Received& message, const DecodeContext& context);

}  // namespace canary::rt
