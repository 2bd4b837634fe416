#include "wire/codec.h"

#include <algorithm>
#include <limits>

#include "scheduler/plan.h"

namespace canary::rt {
namespace {

// Builds an envelope, lets `fill` set its one member (and name the
// attachments it refers to), and cuts it into pieces.
template <class Fill>
Frames envelope(std::size_t piece, Fill&& fill, const std::vector<Bytes>& attachments = {}) {
  capnp::MallocMessageBuilder message;
  fill(message.initRoot<wire::Envelope>());
  return to_frames(message, piece, attachments);
}

kj::ArrayPtr<const kj::byte> bytes_of(std::string_view s) {
  return kj::ArrayPtr<const kj::byte>(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

// Below Emit's threshold for moving a chunk rather than serializing it, a
// blob is copied into the envelope: a frame of its own would cost more than
// the copy.
void put_blob(wire::Blob::Builder blob, const Bytes& bytes, std::vector<Bytes>& attachments) {
  if (bytes.size() < detail::kAttachBytes) {
    blob.setInline(bytes_of(bytes.flat()));
    return;
  }
  blob.setAttached(bytes.size());
  attachments.push_back(bytes);
}

Result<Bytes> take_blob(wire::Blob::Reader blob, Attachments& attachments) {
  switch (blob.which()) {
    case wire::Blob::INLINE: {
      capnp::Data::Reader d = blob.getInline();
      return Bytes(std::string(d.begin(), d.end()));
    }
    case wire::Blob::ATTACHED:
      return attachments.next(blob.getAttached());
  }
  return Status::error("a blob of an unknown kind");
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

// Numbers from the wire, clamped so that a hostile one cannot overflow an int.
int small(std::uint32_t n) { return static_cast<int>(std::min<std::uint32_t>(n, 1u << 30)); }
WorkerId worker_id(std::uint32_t n) { return WorkerId(small(n)); }

// --- the partition map: Start, MapUpdate -----------------------------------------

void encode_map(const PartitionMap& map, capnp::List<wire::MapEntry>::Builder entries) {
  std::size_t k = 0;
  for (std::size_t g = 0; g < map.owner.size(); ++g)
    for (std::size_t i = 0; i < map.owner[g].size(); ++i, ++k) {
      entries[k].setGroup(g);
      entries[k].setPartition(i);
      entries[k].setWorker(map.owner[g][i].value());
      entries[k].setVersion(map.version[g][i].value());
    }
}

// Checks the bounds, and that no entry names a worker the receiver does not know.
Result<PartitionMap> decode_map(capnp::List<wire::MapEntry>::Reader entries, std::size_t workers) {
  PartitionMap map;
  for (wire::MapEntry::Reader e : entries) {
    if (e.getGroup() >= (1u << 16) || e.getPartition() > static_cast<std::uint32_t>(kMaxPartitions) ||
        e.getWorker() >= workers)
      return Status::error("a map entry out of range");
    if (map.owner.size() <= e.getGroup()) {
      map.owner.resize(e.getGroup() + 1);
      map.version.resize(e.getGroup() + 1);
    }
    auto& owner = map.owner[e.getGroup()];
    if (owner.size() <= e.getPartition()) {
      owner.resize(e.getPartition() + 1, WorkerId(-1));
      map.version[e.getGroup()].resize(e.getPartition() + 1, Version(0));
    }
    owner[e.getPartition()] = WorkerId(static_cast<int>(e.getWorker()));
    map.version[e.getGroup()][e.getPartition()] = Version(e.getVersion());
  }
  return map;
}

// --- outputs: Done, SnapshotWritten --------------------------------------------

void encode_outputs(const std::vector<Outputs::Entry>& entries, capnp::List<wire::Output>::Builder list) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    list[i].setKey(entries[i].key);
    list[i].setStage(entries[i].stage.value());
    list[i].setIndex(entries[i].index);
    list[i].setJson(entries[i].json);
    list[i].setSeq(entries[i].seq.value());
  }
}

Result<std::vector<Outputs::Entry>> decode_outputs(capnp::List<wire::Output>::Reader list,
                                                   const Program& program) {
  std::vector<Outputs::Entry> out;
  for (wire::Output::Reader o : list) {
    if (o.getStage() >= program.stages.size())
      return Status::error("an output of a stage that does not exist");
    out.push_back({text(o.getKey()), StageId(static_cast<int>(o.getStage())), small(o.getIndex()),
                   Seq(o.getSeq()), text(o.getJson())});
  }
  return out;
}

// --- central dispatch's task lists -------------------------------------------------

void encode_tasks(const std::vector<TaskId>& tasks, capnp::List<wire::TaskId>::Builder list) {
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    list[i].setSeq(tasks[i].seq.value());
    list[i].setSlot(static_cast<std::uint32_t>(tasks[i].slot));
  }
}

std::vector<TaskId> decode_tasks(capnp::List<wire::TaskId>::Reader list) {
  std::vector<TaskId> out;
  for (wire::TaskId::Reader t : list) out.push_back({Seq(t.getSeq()), small(t.getSlot())});
  return out;
}

// --- data between workers: Transfer, Handover -------------------------------------

wire::Transfer::Kind to_wire(Message::Kind k) {
  switch (k) {
    case Message::Kind::Chunks:
      return wire::Transfer::Kind::CHUNKS;
    case Message::Kind::ReduceInput:
      return wire::Transfer::Kind::REDUCE_INPUT;
    case Message::Kind::BroadcastValue:
      return wire::Transfer::Kind::BROADCAST_VALUE;
    case Message::Kind::Signal:
      return wire::Transfer::Kind::SIGNAL;
  }
  return wire::Transfer::Kind::CHUNKS;
}

void fill_transfer(wire::Transfer::Builder d, const Message& m, const Program& program,
                   std::vector<Bytes>& attachments) {
  d.setKind(to_wire(m.kind));
  d.setJob(program.job);
  d.setSeq(m.seq.value());
  d.setStage(m.stage.value());
  auto iterations = d.initIterations(m.iterations.size());
  for (std::size_t i = 0; i < m.iterations.size(); ++i) iterations.set(i, m.iterations[i]);
  d.setSender(m.sender.value());
  auto parts = d.initParts(m.parts.size());
  const StageInfo& stage = program.stages[m.stage.value()];
  int target = m.kind == Message::Kind::Chunks ? stage.to : stage.writes.empty() ? 0 : stage.writes[0];
  for (std::size_t i = 0; i < m.parts.size(); ++i) {
    parts[i].setDataset(target);
    parts[i].setPartition(m.parts[i].partition.value());
    parts[i].setVersion(m.parts[i].version.value());
    put_blob(parts[i].initPayload(), m.parts[i].bytes, attachments);
  }
  put_blob(d.initValue(), m.value, attachments);
  d.setSignal(m.signal);
}

// Checks the fields against the program, so nothing out of range gets in.
Result<Message> decode_transfer(wire::Transfer::Reader d, const Program& program, Attachments& attachments) {
  if (d.getStage() >= program.stages.size())
    return Status::error("data for stage " + std::to_string(d.getStage()) + ", which does not exist");
  StageId stage_id(static_cast<int>(d.getStage()));
  const StageInfo& stage = program.stages[stage_id.value()];
  Message::Kind kind;
  switch (d.getKind()) {
    case wire::Transfer::Kind::CHUNKS:
      kind = Message::Kind::Chunks;
      break;
    case wire::Transfer::Kind::REDUCE_INPUT:
      kind = Message::Kind::ReduceInput;
      break;
    case wire::Transfer::Kind::BROADCAST_VALUE:
      kind = Message::Kind::BroadcastValue;
      break;
    case wire::Transfer::Kind::SIGNAL:
      kind = Message::Kind::Signal;
      break;
    default:
      return Status::error("data of an unknown kind");
  }
  if (facts_of(stage.kind).sends != kind)
    return Status::error("data of the wrong kind for stage '" + stage.name + "'");
  if (d.getJob() != program.job) return Status::error("data for job '" + text(d.getJob()) + "'");
  if (d.getSender() < 0) return Status::error("data from a partition that does not exist");
  Message m(kind, Seq(d.getSeq()), stage_id, PartitionIndex(d.getSender()));
  for (int it : d.getIterations()) m.iterations.push_back(it);
  int target = kind == Message::Kind::Chunks ? stage.to : stage.writes.empty() ? -1 : stage.writes[0];
  for (wire::Part::Reader p : d.getParts()) {
    if (static_cast<int>(p.getDataset()) != target || p.getPartition() > INT32_MAX)
      return Status::error("a part for the wrong dataset");
    Result<Bytes> payload = take_blob(p.getPayload(), attachments);
    if (!payload.ok()) return payload.status();
    m.parts.push_back({PartitionIndex(static_cast<int>(p.getPartition())), Version(p.getVersion()),
                       std::move(payload).value()});
  }
  Result<Bytes> value = take_blob(d.getValue(), attachments);
  if (!value.ok()) return value.status();
  m.value = std::move(value).value();
  m.signal = d.getSignal();
  return m;
}

Result<Handover> decode_handover(wire::Handover::Reader b, const Program& program, Attachments& attachments) {
  if (b.getJob() != program.job) return Status::error("a handover for job '" + text(b.getJob()) + "'");
  if (b.getGroup() > INT32_MAX || b.getPartition() > INT32_MAX)
    return Status::error("a handover out of range");
  Handover h;
  h.which = {GroupId(static_cast<int>(b.getGroup())), PartitionIndex(static_cast<int>(b.getPartition()))};
  h.version = Version(b.getVersion());
  for (wire::HandedDataset::Reader d : b.getDatasets()) {
    if (d.getDataset() >= program.datasets.size())
      return Status::error("a handover of a dataset that does not exist");
    Result<Bytes> bytes = take_blob(d.getBytes(), attachments);
    if (!bytes.ok()) return bytes.status();
    h.datasets.push_back(
        {DatasetId(static_cast<int>(d.getDataset())), d.getAccesses(), std::move(bytes).value()});
  }
  for (wire::Transfer::Reader t : b.getPending()) {
    Result<Message> m = decode_transfer(t, program, attachments);
    if (!m.ok()) return m.status().about("a handover with ");
    h.pending.push_back(std::move(m).value());
  }
  return h;
}

// --- the decoder: one case per member of the envelope's union -------------------

Result<Envelope> decode_envelope(wire::Envelope::Reader e, const DecodeContext& context,
                                 Attachments& attachments) {
  const Program& program = context.program;
  switch (e.which()) {
    case wire::Envelope::REGISTER: {
      auto r = e.getRegister();
      msg::Register out;
      out.job = text(r.getJob());
      out.data_endpoint = text(r.getDataEndpoint());
      out.threads = static_cast<int>(std::max(1u, std::min(r.getThreads(), 1024u)));
      out.slowdown = r.getSlowdown();
      out.pid = small(r.getPid());
      if (r.getCpus().size() > 4096) return Status::error("a registration with too many CPUs");
      for (std::uint32_t cpu : r.getCpus()) out.cpus.push_back(small(cpu));
      out.numa_node = std::max(-1, r.getNumaNode());
      out.next_epoch =
          Epoch(std::min<std::uint64_t>(r.getNextEpoch(), std::uint64_t{1} << 62));  // room to count up
      return Envelope(std::move(out));
    }
    case wire::Envelope::START: {
      auto s = e.getStart();
      msg::Start out;
      out.worker = worker_id(s.getWorker());
      for (auto p : s.getParams()) out.params.push_back(text(p));
      for (auto p : s.getPeers()) out.peers.push_back(text(p));
      if (static_cast<std::size_t>(out.worker.value()) >= out.peers.size() ||
          out.peers[out.worker.value()].empty())
        return Status::error("a start for a worker not listed");
      out.epoch = Epoch(s.getEpoch());
      out.snapshot_dir = text(s.getSnapshotDir());
      out.snapshot_every = small(s.getSnapshotEvery());
      out.start_at = small(s.getStartAt());
      if (out.start_at > 0 && out.snapshot_dir.empty())
        return Status::error("a start from a snapshot without its directory");
      out.central_dispatch = s.getCentralDispatch();
      Result<PartitionMap> map = decode_map(s.getMap(), out.peers.size());
      if (!map.ok()) return map.status().about("a start message with ");
      out.map = std::move(map).value();
      return Envelope(std::move(out));
    }
    case wire::Envelope::HEARTBEAT:
      return Envelope(msg::Heartbeat{worker_id(e.getHeartbeat().getWorker())});
    case wire::Envelope::DATA: {
      Result<Message> m = decode_transfer(e.getData(), program, attachments);
      if (!m.ok()) return m.status();
      return Envelope(msg::Data{Epoch(e.getData().getEpoch()), std::move(m).value()});
    }
    case wire::Envelope::DONE: {
      auto d = e.getDone();
      Result<std::vector<Outputs::Entry>> outputs = decode_outputs(d.getOutputs(), program);
      if (!outputs.ok()) return outputs.status();
      return Envelope(msg::Done{worker_id(d.getWorker()), Epoch(d.getEpoch()), d.getTasks(),
                                d.getSchedulerCpuS(), d.getTaskCpuS(), d.getProcessCpuS(), d.getForwarded(),
                                d.getHeld(), std::move(outputs).value(), d.getUnused()});
    }
    case wire::Envelope::FAILURE:
      return Envelope(msg::Failure{worker_id(e.getFailure().getWorker()), text(e.getFailure().getMessage())});
    case wire::Envelope::SHUTDOWN:
      return Envelope(msg::Shutdown{text(e.getShutdown().getReason())});
    case wire::Envelope::MAP_UPDATE: {
      Result<PartitionMap> map = decode_map(e.getMapUpdate().getMap(), context.workers);
      if (!map.ok()) return map.status().about("a map update: ");
      return Envelope(msg::MapUpdate{std::move(map).value()});
    }
    case wire::Envelope::LOAD_REPORT: {
      auto r = e.getLoadReport();
      msg::LoadReport out{worker_id(r.getWorker()),
                          Epoch(r.getEpoch()),
                          r.getTasks(),
                          r.getBusySeconds(),
                          r.getIdleSeconds(),
                          {},
                          {},
                          r.getSchedulerSeconds()};
      for (auto g : r.getGroups())
        out.groups.push_back({{GroupId(small(g.getGroup())), PartitionIndex(small(g.getPartition()))},
                              g.getTasks(),
                              g.getCpuSeconds()});
      for (auto st : r.getStages())
        out.stages.push_back(
            {StageId(small(st.getStage())), st.getRun(), st.getIteration(), small(st.getDone())});
      return Envelope(std::move(out));
    }
    case wire::Envelope::MIGRATE: {
      auto m = e.getMigrate();
      if (m.getGroup() > INT32_MAX || m.getPartition() > INT32_MAX || m.getTo() > INT32_MAX)
        return Status::error("a migration out of range");
      return Envelope(msg::Migrate{{GroupId(small(m.getGroup())), PartitionIndex(small(m.getPartition()))},
                                   worker_id(m.getTo()),
                                   Version(m.getVersion())});
    }
    case wire::Envelope::HANDOVER: {
      Result<Handover> h = decode_handover(e.getHandover(), program, attachments);
      if (!h.ok()) return h.status();
      return Envelope(msg::HandOver{Epoch(e.getHandover().getEpoch()), std::move(h).value()});
    }
    case wire::Envelope::MIGRATED: {
      auto m = e.getMigrated();
      return Envelope(msg::Migrated{worker_id(m.getWorker()),
                                    Epoch(m.getEpoch()),
                                    {GroupId(small(m.getGroup())), PartitionIndex(small(m.getPartition()))},
                                    Version(m.getVersion())});
    }
    case wire::Envelope::SNAPSHOT_WRITTEN: {
      auto s = e.getSnapshotWritten();
      Result<std::vector<Outputs::Entry>> outputs = decode_outputs(s.getOutputs(), program);
      if (!outputs.ok()) return outputs.status();
      msg::SnapshotWritten out{worker_id(s.getWorker()),   Epoch(s.getEpoch()), small(s.getSnapshot()), {},
                               std::move(outputs).value(), text(s.getError()),  s.getDurable()};
      for (auto p : s.getPartitions())
        out.partitions.push_back({GroupId(small(p.getGroup())), PartitionIndex(small(p.getPartition()))});
      return Envelope(std::move(out));
    }
    case wire::Envelope::RESUME:
      return Envelope(msg::Resume{small(e.getResume().getSnapshot())});
    case wire::Envelope::RESTARTED: {
      auto r = e.getRestarted();
      return Envelope(msg::Restarted{worker_id(r.getWorker()), Epoch(r.getEpoch()), text(r.getError())});
    }
    case wire::Envelope::TASK_REPORT: {
      auto r = e.getTaskReport();
      return Envelope(msg::TaskReport{worker_id(r.getWorker()), small(r.getShard()),
                                      decode_tasks(r.getFinished()), decode_tasks(r.getReady())});
    }
    case wire::Envelope::LAUNCH:
      return Envelope(msg::Launch{small(e.getLaunch().getShard()), decode_tasks(e.getLaunch().getTasks())});
  }
  return Status::error("a message of an unknown kind");
}

}  // namespace

// --- the encoders, in the order of the envelope's union ----------------------------

Frames encode(const msg::Register& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto r = e.initRegister();
    r.setJob(m.job);
    r.setDataEndpoint(m.data_endpoint);
    r.setThreads(static_cast<std::uint32_t>(m.threads));
    r.setSlowdown(m.slowdown);
    r.setPid(static_cast<std::uint32_t>(m.pid));
    auto cpus = r.initCpus(m.cpus.size());
    for (std::size_t i = 0; i < m.cpus.size(); ++i) cpus.set(i, static_cast<std::uint32_t>(m.cpus[i]));
    r.setNumaNode(m.numa_node);
    r.setNextEpoch(m.next_epoch.value());
  });
}

Frames encode(const msg::Start& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto s = e.initStart();
    s.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    auto params = s.initParams(m.params.size());
    for (std::size_t i = 0; i < m.params.size(); ++i) params.set(i, m.params[i]);
    auto peers = s.initPeers(m.peers.size());
    for (std::size_t i = 0; i < m.peers.size(); ++i) peers.set(i, m.peers[i]);
    encode_map(m.map, s.initMap(m.map.entries()));
    s.setEpoch(m.epoch.value());
    s.setSnapshotDir(m.snapshot_dir);
    s.setSnapshotEvery(static_cast<std::uint32_t>(m.snapshot_every));
    s.setStartAt(static_cast<std::uint32_t>(m.start_at));
    s.setCentralDispatch(m.central_dispatch);
  });
}

Frames encode(const msg::Heartbeat& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    e.initHeartbeat().setWorker(static_cast<std::uint32_t>(m.worker.value()));
  });
}

Frames encode_data(Epoch epoch, const Message& m, const Program& program) {
  std::vector<Bytes> attachments;
  return envelope(
      kDataPieceBytes,
      [&](wire::Envelope::Builder e) {
        wire::Transfer::Builder d = e.initData();
        fill_transfer(d, m, program, attachments);
        d.setEpoch(epoch.value());
      },
      attachments);
}

Frames encode(const msg::Done& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto d = e.initDone();
    d.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    d.setEpoch(m.epoch.value());
    d.setTasks(m.tasks);
    d.setSchedulerCpuS(m.scheduler_cpu_s);
    d.setTaskCpuS(m.task_cpu_s);
    d.setProcessCpuS(m.process_cpu_s);
    d.setForwarded(m.forwarded);
    d.setHeld(m.held);
    d.setUnused(m.unused);
    encode_outputs(m.outputs, d.initOutputs(static_cast<unsigned>(m.outputs.size())));
  });
}

Frames encode(const msg::Failure& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto f = e.initFailure();
    f.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    f.setMessage(m.message);
  });
}

Frames encode(const msg::Shutdown& m) {
  return envelope(kControlPieceBytes,
                  [&](wire::Envelope::Builder e) { e.initShutdown().setReason(m.reason); });
}

Frames encode(const msg::MapUpdate& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    encode_map(m.map, e.initMapUpdate().initMap(m.map.entries()));
  });
}

Frames encode(const msg::LoadReport& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto r = e.initLoadReport();
    r.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    r.setEpoch(m.epoch.value());
    r.setTasks(m.tasks);
    r.setBusySeconds(m.busy_s);
    r.setIdleSeconds(m.idle_s);
    r.setSchedulerSeconds(m.scheduler_s);
    auto groups = r.initGroups(m.groups.size());
    for (std::size_t i = 0; i < m.groups.size(); ++i) {
      groups[i].setGroup(m.groups[i].which.group.value());
      groups[i].setPartition(m.groups[i].which.partition.value());
      groups[i].setCpuSeconds(m.groups[i].cpu_s);
      groups[i].setTasks(m.groups[i].tasks);
    }
    auto stages = r.initStages(m.stages.size());
    for (std::size_t i = 0; i < m.stages.size(); ++i) {
      stages[i].setStage(static_cast<unsigned>(m.stages[i].stage.value()));
      stages[i].setRun(m.stages[i].run);
      stages[i].setIteration(m.stages[i].iteration);
      stages[i].setDone(static_cast<unsigned>(m.stages[i].done));
    }
  });
}

Frames encode(const msg::Migrate& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto r = e.initMigrate();
    r.setGroup(m.which.group.value());
    r.setPartition(m.which.partition.value());
    r.setTo(m.to.value());
    r.setVersion(m.version.value());
  });
}

Frames encode_handover(Epoch epoch, const Handover& h, const Program& program) {
  std::vector<Bytes> attachments;
  return envelope(
      kDataPieceBytes,
      [&](wire::Envelope::Builder e) {
        wire::Handover::Builder b = e.initHandover();
        b.setJob(program.job);
        b.setEpoch(epoch.value());
        b.setGroup(h.which.group.value());
        b.setPartition(h.which.partition.value());
        b.setVersion(h.version.value());
        auto datasets = b.initDatasets(h.datasets.size());
        for (std::size_t i = 0; i < h.datasets.size(); ++i) {
          datasets[i].setDataset(h.datasets[i].dataset.value());
          datasets[i].setAccesses(h.datasets[i].accesses);
          put_blob(datasets[i].initBytes(), h.datasets[i].bytes, attachments);
        }
        auto pending = b.initPending(h.pending.size());
        for (std::size_t i = 0; i < h.pending.size(); ++i)
          fill_transfer(pending[i], h.pending[i], program, attachments);
      },
      attachments);
}

Frames encode(const msg::Migrated& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto r = e.initMigrated();
    r.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    r.setEpoch(m.epoch.value());
    r.setGroup(m.which.group.value());
    r.setPartition(m.which.partition.value());
    r.setVersion(m.version.value());
  });
}

Frames encode(const msg::SnapshotWritten& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto r = e.initSnapshotWritten();
    r.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    r.setEpoch(m.epoch.value());
    r.setSnapshot(static_cast<std::uint32_t>(m.snapshot));
    auto list = r.initPartitions(m.partitions.size());
    for (std::size_t i = 0; i < m.partitions.size(); ++i) {
      list[i].setGroup(m.partitions[i].group.value());
      list[i].setPartition(m.partitions[i].partition.value());
    }
    encode_outputs(m.outputs, r.initOutputs(static_cast<unsigned>(m.outputs.size())));
    r.setError(m.error);
    r.setDurable(m.durable);
  });
}

Frames encode(const msg::Resume& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    e.initResume().setSnapshot(static_cast<std::uint32_t>(m.snapshot));
  });
}

Frames encode(const msg::Restarted& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto r = e.initRestarted();
    r.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    r.setEpoch(m.epoch.value());
    r.setError(m.error);
  });
}

Frames encode(const msg::TaskReport& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto r = e.initTaskReport();
    r.setWorker(static_cast<std::uint32_t>(m.worker.value()));
    r.setShard(static_cast<std::uint32_t>(m.shard));
    encode_tasks(m.finished, r.initFinished(m.finished.size()));
    encode_tasks(m.ready, r.initReady(m.ready.size()));
  });
}

Frames encode(const msg::Launch& m) {
  return envelope(kControlPieceBytes, [&](wire::Envelope::Builder e) {
    auto l = e.initLaunch();
    l.setShard(static_cast<std::uint32_t>(m.shard));
    encode_tasks(m.tasks, l.initTasks(m.tasks.size()));
  });
}

Result<Envelope> decode(Received& message, const DecodeContext& context) {
  Result<Envelope> out = Status::error("an empty message");
  Attachments attachments(message.attachments);
  Status read = with_envelope(
      message.envelope, [&](wire::Envelope::Reader e) { out = decode_envelope(e, context, attachments); });
  if (!read.ok()) return read;
  if (out.ok() && !attachments.finished().ok()) return attachments.finished();
  return out;
}

}  // namespace canary::rt
