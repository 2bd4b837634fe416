#include "wire.h"

#include <kj/exception.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <memory>

namespace canary::rt {

void DropLog::about(const std::string& what) {
  if (++count_ <= 5 || count_ % 1000 == 0)
    std::cerr << who_ << ": dropped a message (" << count_ << " so far): " << what << "\n";
}

namespace {

// The flat words of a message, shared by the pieces that point into them
// and freed by the last piece ZeroMQ lets go of.
struct SharedWords {
  kj::Array<capnp::word> words;
  std::atomic<std::size_t> pieces;
};

void release_piece(void*, void* hint) {
  auto* shared = static_cast<SharedWords*>(hint);
  if (--shared->pieces == 0) delete shared;
}

}  // namespace

Frames to_frames(capnp::MessageBuilder& message, std::size_t piece) {
  auto shared = std::make_unique<SharedWords>();
  shared->words = capnp::messageToFlatArray(message);
  kj::ArrayPtr<kj::byte> bytes = shared->words.asBytes();
  std::size_t count = (bytes.size() + piece - 1) / piece;
  shared->pieces = count;
  Frames frames;
  SharedWords* owner = shared.release();  // from here on, the pieces own it
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t at = i * piece;
    frames.emplace_back(bytes.begin() + at, std::min(piece, bytes.size() - at), &release_piece, owner);
  }
  return frames;
}

bool send_frames(zmq::socket_t& socket, Frames& frames, const std::string* identity) {
  try {
    if (identity &&
        !socket.send(zmq::buffer(*identity), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    // Once the first piece is taken the others are too: ZeroMQ moves a
    // multipart message whole or not at all.
    for (std::size_t i = 0; i < frames.size(); ++i)
      if (!socket.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                        : zmq::send_flags::dontwait))
        return false;
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH: the peer has gone; its silence will say so
  }
  return true;
}

bool receive_frames(zmq::socket_t& socket, zmq::message_t& whole, DropLog& dropped, std::string* identity) {
  for (;;) {
    zmq::message_t first;
    if (!socket.recv(first, zmq::recv_flags::dontwait)) return false;
    if (identity) {
      *identity = first.to_string();
      if (!first.more() || !socket.recv(first, zmq::recv_flags::dontwait)) continue;
    }
    if (!first.more()) {
      whole = std::move(first);
      return true;
    }
    Frames pieces;
    std::size_t total = first.size();
    bool more = true;
    pieces.push_back(std::move(first));
    while (more) {
      zmq::message_t next;
      if (!socket.recv(next, zmq::recv_flags::dontwait)) break;  // cannot happen: multipart arrives whole
      more = next.more();
      total += next.size();
      if (total <= kMaxMessageBytes) pieces.push_back(std::move(next));  // past the limit: read, dropped
    }
    if (total > kMaxMessageBytes) {
      dropped.about("a message of " + std::to_string(total) + " bytes is over the limit");
      continue;
    }
    whole.rebuild(total);
    std::size_t at = 0;
    for (const zmq::message_t& p : pieces) {
      std::memcpy(static_cast<char*>(whole.data()) + at, p.data(), p.size());
      at += p.size();
    }
    return true;
  }
}

std::string with_envelope(const zmq::message_t& frame,
                          const std::function<void(wire::Envelope::Reader)>& use) {
  if (frame.empty() || frame.size() % sizeof(capnp::word) != 0)
    return "a frame of " + std::to_string(frame.size()) + " bytes is not a message";
  if (frame.size() > kMaxMessageBytes)
    return "a message of " + std::to_string(frame.size()) + " bytes is over the limit";
  try {
    // Frames from TCP are often misaligned; Cap'n Proto reads words in place.
    kj::Array<capnp::word> copy;
    kj::ArrayPtr<const capnp::word> words;
    if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(capnp::word) == 0) {
      words = kj::ArrayPtr<const capnp::word>(static_cast<const capnp::word*>(frame.data()),
                                              frame.size() / sizeof(capnp::word));
    } else {
      copy = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
      std::memcpy(copy.begin(), frame.data(), frame.size());
      words = copy;
    }
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = frame.size() / sizeof(capnp::word) * 4 + 1024;
    limits.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(words, limits);
    use(reader.getRoot<wire::Envelope>());
    return "";
  } catch (const kj::Exception& e) {
    return std::string("malformed message: ") + e.getDescription().cStr();
  } catch (const std::exception& e) {
    return std::string("malformed message: ") + e.what();
  }
}

namespace {

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

kj::ArrayPtr<const kj::byte> bytes_of(const std::string& s) {
  return kj::ArrayPtr<const kj::byte>(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

}  // namespace

namespace {

void fill_transfer(wire::Transfer::Builder d, const Message& m, const std::string& job,
                   const Program& program) {
  d.setKind(to_wire(m.kind));
  d.setJob(job);
  d.setSeq(m.seq);
  d.setStage(m.stage);
  auto iterations = d.initIterations(m.iterations.size());
  for (std::size_t i = 0; i < m.iterations.size(); ++i) iterations.set(i, m.iterations[i]);
  d.setSender(m.sender);
  auto parts = d.initParts(m.parts.size());
  const StageInfo& stage = program.stages[m.stage];
  int target = m.kind == Message::Kind::Chunks ? stage.to : stage.writes.empty() ? 0 : stage.writes[0];
  for (std::size_t i = 0; i < m.parts.size(); ++i) {
    parts[i].setDataset(target);
    parts[i].setPartition(m.parts[i].partition);
    parts[i].setVersion(m.parts[i].version);
    parts[i].setPayload(bytes_of(m.parts[i].bytes));
  }
  d.setValue(bytes_of(m.value));
  d.setSignal(m.signal);
}

}  // namespace

Frames encode_data(const Message& m, const std::string& job, const Program& program, std::uint64_t epoch) {
  capnp::MallocMessageBuilder message;
  wire::Transfer::Builder d = message.initRoot<wire::Envelope>().initData();
  fill_transfer(d, m, job, program);
  d.setEpoch(epoch);
  return to_frames(message, kDataPieceBytes);
}

Frames encode_handover(const Handover& h, const std::string& job, const Program& program,
                       std::uint64_t epoch) {
  capnp::MallocMessageBuilder message;
  wire::Handover::Builder b = message.initRoot<wire::Envelope>().initHandover();
  b.setJob(job);
  b.setEpoch(epoch);
  b.setGroup(h.group);
  b.setPartition(h.partition);
  b.setVersion(h.version);
  auto datasets = b.initDatasets(h.datasets.size());
  for (std::size_t i = 0; i < h.datasets.size(); ++i) {
    datasets[i].setDataset(h.datasets[i].dataset);
    datasets[i].setAccesses(h.datasets[i].accesses);
    datasets[i].setBytes(bytes_of(h.datasets[i].bytes));
  }
  auto pending = b.initPending(h.pending.size());
  for (std::size_t i = 0; i < h.pending.size(); ++i) fill_transfer(pending[i], h.pending[i], job, program);
  return to_frames(message, kDataPieceBytes);
}

std::string decode_handover(wire::Handover::Reader b, const Program& program, Handover& out) {
  if (b.getJob() != program.job) return "a handover for job '" + std::string(b.getJob().cStr()) + "'";
  if (b.getGroup() > INT32_MAX || b.getPartition() > INT32_MAX) return "a handover out of range";
  Handover h;
  h.group = static_cast<int>(b.getGroup());
  h.partition = static_cast<int>(b.getPartition());
  h.version = b.getVersion();
  for (wire::HandedDataset::Reader d : b.getDatasets()) {
    if (d.getDataset() >= program.datasets.size()) return "a handover of a dataset that does not exist";
    auto bytes = d.getBytes();
    h.datasets.push_back(
        {static_cast<int>(d.getDataset()), d.getAccesses(), std::string(bytes.begin(), bytes.end())});
  }
  for (wire::Transfer::Reader t : b.getPending()) {
    Message m(Message::Kind::Signal, 0, 0);
    std::string problem = decode_data(t, program, m);
    if (!problem.empty()) return "a handover with " + problem;
    h.pending.push_back(std::move(m));
  }
  out = std::move(h);
  return "";
}

std::string decode_data(wire::Transfer::Reader d, const Program& program, Message& out) {
  if (d.getStage() >= program.stages.size())
    return "data for stage " + std::to_string(d.getStage()) + ", which does not exist";
  const StageInfo& stage = program.stages[d.getStage()];
  Message::Kind kind;
  StageKind expected;
  switch (d.getKind()) {
    case wire::Transfer::Kind::CHUNKS:
      kind = Message::Kind::Chunks, expected = StageKind::Scatter;
      break;
    case wire::Transfer::Kind::REDUCE_INPUT:
      kind = Message::Kind::ReduceInput, expected = StageKind::Reduce;
      break;
    case wire::Transfer::Kind::BROADCAST_VALUE:
      kind = Message::Kind::BroadcastValue, expected = StageKind::Broadcast;
      break;
    case wire::Transfer::Kind::SIGNAL:
      kind = Message::Kind::Signal, expected = StageKind::Signal;
      break;
    default:
      return "data of an unknown kind";
  }
  if (stage.kind != expected) return "data of the wrong kind for stage '" + stage.name + "'";
  if (d.getJob() != program.job) return "data for job '" + std::string(d.getJob().cStr()) + "'";
  Message m(kind, d.getSeq(), static_cast<int>(d.getStage()), d.getSender());
  for (int it : d.getIterations()) m.iterations.push_back(it);
  int target = kind == Message::Kind::Chunks ? stage.to : stage.writes.empty() ? -1 : stage.writes[0];
  for (wire::Part::Reader p : d.getParts()) {
    if (static_cast<int>(p.getDataset()) != target || p.getPartition() > INT32_MAX)
      return "a part for the wrong dataset";
    auto payload = p.getPayload();
    m.parts.push_back(
        {static_cast<int>(p.getPartition()), p.getVersion(), std::string(payload.begin(), payload.end())});
  }
  auto value = d.getValue();
  m.value.assign(value.begin(), value.end());
  m.signal = d.getSignal();
  out = std::move(m);
  return "";
}

std::size_t map_entries(const PartitionMap& map) {
  std::size_t n = 0;
  for (const auto& g : map.owner) n += g.size();
  return n;
}

void encode_map(const PartitionMap& map, capnp::List<wire::MapEntry>::Builder entries) {
  std::size_t k = 0;
  for (std::size_t g = 0; g < map.owner.size(); ++g)
    for (std::size_t i = 0; i < map.owner[g].size(); ++i, ++k) {
      entries[k].setGroup(g);
      entries[k].setPartition(i);
      entries[k].setWorker(map.owner[g][i]);
      entries[k].setVersion(map.version[g][i]);
    }
}

std::string decode_map(capnp::List<wire::MapEntry>::Reader entries, std::size_t workers, PartitionMap& out) {
  PartitionMap map;
  for (wire::MapEntry::Reader e : entries) {
    if (e.getGroup() >= (1u << 16) || e.getPartition() >= (1u << 24) || e.getWorker() >= workers)
      return "a map entry out of range";
    if (map.owner.size() <= e.getGroup()) {
      map.owner.resize(e.getGroup() + 1);
      map.version.resize(e.getGroup() + 1);
    }
    auto& owner = map.owner[e.getGroup()];
    if (owner.size() <= e.getPartition()) {
      owner.resize(e.getPartition() + 1, -1);
      map.version[e.getGroup()].resize(e.getPartition() + 1, 0);
    }
    owner[e.getPartition()] = static_cast<int>(e.getWorker());
    map.version[e.getGroup()][e.getPartition()] = e.getVersion();
  }
  out = std::move(map);
  return "";
}

}  // namespace canary::rt
