// Frames on the wire: Cap'n Proto envelopes (wire.capnp) in ZeroMQ messages.
// Decoding never trusts its input: sizes are capped, Cap'n Proto's reader
// limits apply, and every exception stops here as an error value.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <functional>
#include <string>
#include <vector>
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

// A message (one Cap'n Proto envelope) travels as one multipart ZeroMQ
// message of pieces of at most a socket's piece size, and every socket
// refuses larger frames (ZMQ_MAXMSGSIZE) before reading them: a peer that
// declares a huge frame is cut off at its header. Control messages come in
// small pieces; data (chunks, handovers) in larger ones.
constexpr std::size_t kControlPieceBytes = std::size_t{256} << 10;
constexpr std::size_t kDataPieceBytes = std::size_t{4} << 20;
// What a socket admits (ZMQ_MAXMSGSIZE) for pieces of `piece` bytes: CURVE
// adds its box to every frame, and the limit applies to what is on the wire.
constexpr std::int64_t max_frame_bytes(std::size_t piece) { return static_cast<std::int64_t>(piece + 256); }
// A message whose pieces add up to more than this is refused before decoding.
constexpr std::size_t kMaxMessageBytes = std::size_t{1} << 30;

using Frames = std::vector<zmq::message_t>;

// The envelope in pieces; cutting copies nothing.
Frames to_frames(capnp::MessageBuilder& message, std::size_t piece);
// Sends every piece (after `identity`, for a ROUTER), or, when the peer cannot
// take it now, none: returns false.
bool send_frames(zmq::socket_t& socket, Frames& frames, const std::string* identity = nullptr);
// Receives one message waiting on `socket` and joins its pieces into
// `whole` (`identity` first, for a ROUTER); one too large is dropped and
// logged to `dropped`. False when none is waiting.
bool receive_frames(zmq::socket_t& socket, zmq::message_t& whole, DropLog& dropped,
                    std::string* identity = nullptr);

// Calls `use` with the envelope in `frame`; returns an error message (empty
// when all went well) instead of throwing, whatever the frame holds.
std::string with_envelope(const zmq::message_t& frame,
                          const std::function<void(wire::Envelope::Reader)>& use);

// Data messages between workers, from the sender's `epoch` (see wire.capnp's Start).
Frames encode_data(const Message& m, const std::string& job, const Program& program, std::uint64_t epoch);
// Checks the fields against the program, so nothing out of range gets in.
std::string decode_data(wire::Transfer::Reader data, const Program& program, Message& out);

// Migration, step 3: a partition group between workers.
Frames encode_handover(const Handover& h, const std::string& job, const Program& program,
                       std::uint64_t epoch);
std::string decode_handover(wire::Handover::Reader b, const Program& program, Handover& out);

// Map entries, both ways. Decoding checks the bounds and that no entry
// leaves a partition without a worker of the `workers` there are.
void encode_map(const PartitionMap& map, capnp::List<wire::MapEntry>::Builder entries);
std::size_t map_entries(const PartitionMap& map);
std::string decode_map(capnp::List<wire::MapEntry>::Reader entries, std::size_t workers, PartitionMap& out);

}  // namespace canary::rt
