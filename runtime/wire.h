// Frames on the wire: Cap'n Proto envelopes (wire.capnp) in ZeroMQ messages.
// Decoding never trusts its input: sizes are capped, Cap'n Proto's reader
// limits apply, and every exception stops here as an error value.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <functional>
#include <string>
#include <zmq.hpp>

#include "scheduler.h"
#include "wire.capnp.h"

namespace canary::rt {

// Says that a message was dropped and why, rate-limited: the first few,
// then one in a thousand, so garbage cannot flood the log.
class DropLog {
 public:
  explicit DropLog(std::string who) : who_(std::move(who)) {}
  void about(const std::string& what);

 private:
  std::string who_;
  long count_ = 0;
};

// Frames larger than this are refused before decoding.
constexpr std::size_t kMaxFrameBytes = std::size_t{1} << 30;

zmq::message_t to_frame(capnp::MessageBuilder& message);

// Calls `use` with the envelope in `frame`; returns an error message (empty
// when all went well) instead of throwing, whatever the frame holds.
std::string with_envelope(const zmq::message_t& frame,
                          const std::function<void(wire::Envelope::Reader)>& use);

// Data messages between workers, from the sender's `epoch` (see wire.capnp's Start).
zmq::message_t encode_data(const Message& m, const std::string& job, const Program& program,
                           std::uint64_t epoch);
// Checks the fields against the program, so nothing out of range gets in.
std::string decode_data(wire::Transfer::Reader data, const Program& program, Message& out);

// Migration, step 3: a partition group between workers.
zmq::message_t encode_handover(const Handover& h, const std::string& job, const Program& program,
                               std::uint64_t epoch);
std::string decode_handover(wire::Handover::Reader b, const Program& program, Handover& out);

// Map entries, both ways. Decoding checks the bounds and that no entry
// leaves a partition without a worker of the `workers` there are.
void encode_map(const PartitionMap& map, capnp::List<wire::MapEntry>::Builder entries);
std::size_t map_entries(const PartitionMap& map);
std::string decode_map(capnp::List<wire::MapEntry>::Reader entries, std::size_t workers, PartitionMap& out);

}  // namespace canary::rt
