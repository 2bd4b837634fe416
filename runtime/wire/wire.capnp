# Every message between a Canary controller and its workers, and between
# workers. One Envelope per ZeroMQ frame.
@0xcb993c5e771cd4b4;

$import "/capnp/c++.capnp".namespace("canary::wire");

struct Envelope {
  union {
    register @0 :Register;        # worker -> controller, until it is started
    start @1 :Start;              # controller -> worker
    heartbeat @2 :Heartbeat;      # worker -> controller, periodically
    data @3 :Transfer;            # worker -> worker
    done @4 :Done;                # worker -> controller: it ran all it holds to the end (again if more came)
    failure @5 :Failure;          # worker -> controller: it cannot go on
    shutdown @6 :Shutdown;        # controller -> worker
    mapUpdate @7 :MapUpdate;      # controller -> worker: newer map entries
    loadReport @8 :LoadReport;    # worker -> controller, a few times a second
    migrate @9 :Migrate;          # controller -> the worker a partition group leaves
    handover @10 :Handover;       # worker -> worker: the partition group itself
    migrated @11 :Migrated;       # the receiving worker -> controller: it is installed
    snapshotWritten @12 :SnapshotWritten;  # worker -> controller: partitions written at a cut
    resume @13 :Resume;           # controller -> worker: a snapshot is complete, go on
    restarted @14 :Restarted;     # worker -> controller: it (re)started from a snapshot, or could not
    taskReport @15 :TaskReport;   # worker -> controller, central dispatch: after every task
    launch @16 :Launch;           # controller -> worker, central dispatch: run these
  }
}

struct Register {
  job @0 :Text;           # the job binary's job name: a worker of another job is refused
  dataEndpoint @1 :Text;  # where the other workers reach this one
  threads @2 :UInt32;
  slowdown @3 :Float64;  # tests: its tasks are made this many times slower (worker --slowdown)
  pid @4 :UInt32;        # its process, for a controller that started it on this machine
  cpus @5 :List(UInt32); # the CPUs its compute threads are pinned to, in order; empty: not pinned
  numaNode @6 :Int32;    # the NUMA node those are, or -1
  nextEpoch @7 :UInt64;  # the lowest epoch it can be started in: above its last one when it lost its controller
}

struct MapEntry {
  group @0 :UInt32;      # a co-location group
  partition @1 :UInt32;
  worker @2 :UInt32;
  version @3 :UInt64;    # goes up whenever the entry changes
}

# Also a rollback (recovery, step 2): sent again to a running worker, with a
# newer epoch, it drops everything and starts over from snapshot `startAt`.
struct Start {
  worker @0 :UInt32;            # the number the worker is known by
  params @1 :List(Text);        # the job's parameters, "name=value"
  peers @2 :List(Text);         # data endpoints, by worker number; "" for a lost worker
  map @3 :List(MapEntry);
  epoch @4 :UInt64;             # goes up with every rollback; older data is dropped
  snapshotDir @5 :Text;         # the run's snapshot directory, "" for none
  snapshotEvery @6 :UInt32;     # iterations of an outermost loop between snapshots
  startAt @7 :UInt32;           # the snapshot to start from; 0: the program's start
  centralDispatch @8 :Bool;     # the baseline: every task waits for the controller's Launch
}

struct Heartbeat {
  worker @0 :UInt32;   # from the controller: 0, meaning "still here"
}

struct Transfer {
  kind @0 :Kind;
  enum Kind {
    chunks @0;          # a scatter task's chunks for this worker (and its end-of-scatter marker)
    reduceInput @1;     # one partition's value, for a reduction
    broadcastValue @2;  # a broadcast's value
    signal @3;          # a signal's value
  }
  job @1 :Text;
  seq @2 :UInt64;            # the stage instance: every worker numbers them alike
  stage @3 :UInt32;
  iterations @4 :List(Int32);  # of the loops around the stage, outermost first
  sender @5 :Int32;          # the sending task's partition
  parts @6 :List(Part);      # the destination partitions (see Part)
  value @7 :Blob;            # a reduction input or a broadcast value
  signal @8 :Bool;
  epoch @9 :UInt64;          # the sender's (see Start)
}

# One destination partition of a Transfer. For chunks, every partition the
# sender believes the receiver holds is listed, with or without values: the
# receiver so learns that this sender is done with it (end of scatter).
struct Part {
  dataset @0 :UInt32;
  partition @1 :UInt32;
  version @2 :UInt64;     # the sender's map entry version for this partition
  payload @3 :Blob;       # chunks: serialized values, one after another
}

struct LoadReport {
  worker @0 :UInt32;
  tasks @1 :UInt64;         # tasks run so far
  busySeconds @2 :Float64;  # time spent in task bodies so far, over all its threads
  idleSeconds @3 :Float64;  # the rest of its threads' time so far
  groups @4 :List(GroupLoad);  # every partition group it holds
  epoch @5 :UInt64;
  stages @6 :List(StageRun);   # per stage, how far its newest run has got here
  schedulerSeconds @7 :Float64;  # its compute threads' CPU time outside task bodies so far
}

# A stage's newest run with a finished task on one worker (scheduler.h,
# StageProgress): what the controller shows people, never decides on.
struct StageRun {
  stage @0 :UInt32;
  run @1 :UInt64;       # the stage instance's number plus one; 0: none yet
  iteration @2 :Int32;  # of the outermost loop around it, from 0; -1 outside loops
  done @3 :UInt32;      # its tasks finished here, one per partition
}

struct GroupLoad {
  group @0 :UInt32;
  partition @1 :UInt32;
  cpuSeconds @2 :Float64;  # spent in its tasks on this worker so far
  tasks @3 :UInt64;        # those tasks
}

# Migration, step 1: partition `partition` of every dataset of co-location
# group `group` moves to worker `to`, whose map entry is now at `version`.
struct Migrate {
  group @0 :UInt32;
  partition @1 :UInt32;
  to @2 :UInt32;
  version @3 :UInt64;
}

# Migration, step 3: the partitions, how far each got, and what had
# arrived for them and was not used yet.
struct Handover {
  job @0 :Text;
  group @1 :UInt32;
  partition @2 :UInt32;
  version @3 :UInt64;
  datasets @4 :List(HandedDataset);
  pending @5 :List(Transfer);
  epoch @6 :UInt64;
}

struct HandedDataset {
  dataset @0 :UInt32;
  accesses @1 :UInt64;  # completed accesses: the stage instances it has been through
  bytes @2 :Blob;
}

# Bytes of a chunk, a value or a partition. Small ones are inside the
# envelope; a large one follows it as frames of its own (frame.h), so that
# neither side copies it into or out of the envelope.
struct Blob {
  union {
    inline @0 :Data;
    attached @1 :UInt64;  # its size: it is the next of the attachments, in the order the envelope names them
  }
}

# Migration, step 5: the receiver holds the partitions and runs them on.
struct Migrated {
  worker @0 :UInt32;
  group @1 :UInt32;
  partition @2 :UInt32;
  version @3 :UInt64;
  epoch @4 :UInt64;
}

struct MapUpdate {
  map @0 :List(MapEntry);
}

struct Done {
  worker @0 :UInt32;
  tasks @1 :UInt64;
  schedulerCpuS @2 :Float64;
  taskCpuS @3 :Float64;
  outputs @4 :List(Output);
  forwarded @5 :UInt64;   # message parts it passed on to their owner
  held @6 :UInt64;        # message parts it kept until its map caught up
  epoch @7 :UInt64;
  processCpuS @8 :Float64;  # the whole process's CPU time, its I/O thread included
  unused @9 :UInt64;        # what arrived and was never used, at the end: 0 unless a message went astray
}

struct Output {
  key @0 :Text;
  stage @1 :UInt32;
  index @2 :UInt32;
  json @3 :Text;
  seq @4 :UInt64;  # the stage instance that made it: of two values, the later one counts
}

struct Failure {
  worker @0 :UInt32;
  message @1 :Text;
}

struct Shutdown {
  reason @0 :Text;
}

struct GroupPartition {
  group @0 :UInt32;
  partition @1 :UInt32;
}

# Snapshots, step 2: the worker wrote these partitions at the cut of
# `snapshot`, and had these outputs then (a lost worker's outputs must
# survive it).
struct SnapshotWritten {
  worker @0 :UInt32;
  epoch @1 :UInt64;
  snapshot @2 :UInt32;
  partitions @3 :List(GroupPartition);
  outputs @4 :List(Output);
  error @5 :Text;         # why this worker could not write the rest of it; empty: it wrote all it holds
  durable @6 :Bool;       # false: written (step 3 may resume the workers); true: on disk (the manifest may follow)
}

# Snapshots, step 4: every partition of `snapshot` is written.
struct Resume {
  snapshot @0 :UInt32;
}

# Recovery, step 3: the worker started over at `epoch`; a non-empty `error`
# says why it could not (a snapshot file that does not check out, say).
struct Restarted {
  worker @0 :UInt32;
  epoch @1 :UInt64;
  error @2 :Text;
}

# Central dispatch: a task, by its stage instance and its slot there.
struct TaskId {
  seq @0 :UInt64;
  slot @1 :UInt32;
}

# Central dispatch: a shard ran `finished` (none or one) and found `ready`
# ready to run; they wait for a Launch.
struct TaskReport {
  worker @0 :UInt32;
  shard @1 :UInt32;
  finished @2 :List(TaskId);
  ready @3 :List(TaskId);
}

struct Launch {
  shard @0 :UInt32;
  tasks @1 :List(TaskId);
}
