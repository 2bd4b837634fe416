// Frames: how a Cap'n Proto envelope (wire.capnp) travels in ZeroMQ
// messages, and how one is read back without trusting it. A message goes as
// one multipart ZeroMQ message of pieces of at most a socket's piece size,
// and every socket refuses larger frames (ZMQ_MAXMSGSIZE) before reading
// them, so a peer that declares a huge frame is cut off at its header.
// Control messages come in small pieces; data (chunks, handovers) in larger
// ones. Large blobs (wire.capnp's Blob) follow the envelope as attachments,
// frames of their own that point into the sender's memory and are read on
// the receiving side where they arrived.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "core/bytes.h"
#include "core/result.h"
#include "wire/wire.capnp.h"

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

constexpr std::size_t kControlPieceBytes = std::size_t{256} << 10;
constexpr std::size_t kDataPieceBytes = std::size_t{4} << 20;
// What a socket admits (ZMQ_MAXMSGSIZE) for pieces of `piece` bytes: CURVE
// adds its box to every frame, and the limit applies to what is on the wire.
constexpr std::int64_t max_frame_bytes(std::size_t piece) { return static_cast<std::int64_t>(piece + 256); }
// A message whose pieces add up to more than this is refused before decoding.
constexpr std::size_t kMaxMessageBytes = std::size_t{1} << 30;

using Frames = std::vector<zmq::message_t>;

// The envelope in pieces, then each attachment in pieces; cutting copies
// nothing, and every piece keeps what it points into alive until ZeroMQ is
// done with it.
Frames to_frames(capnp::MessageBuilder& message, std::size_t piece,
                 const std::vector<Bytes>& attachments = {});

// One message as it arrived: the envelope's pieces joined, and the frames of
// its attachments as they came.
struct Received {
  zmq::message_t envelope;
  Frames attachments;
};

// Hands out a message's attachments in order, each as one run of bytes:
// where it came in one frame, that frame itself.
class Attachments {
 public:
  explicit Attachments(Frames& frames) : frames_(frames) {}
  // The next attachment, which the envelope says has `size` bytes.
  Result<Bytes> next(std::uint64_t size);
  // An error if frames are left over.
  Status finished() const;

 private:
  Frames& frames_;
  std::size_t at_ = 0;
};
// Sends every piece (after `identity`, for a ROUTER), or, when the peer cannot
// take it now, none: returns false.
bool send_frames(zmq::socket_t& socket, Frames& frames, const std::string* identity = nullptr);
// Receives one message waiting on `socket` (`identity` first, for a
// ROUTER); one too large or cut in the wrong places is dropped and logged to
// `dropped`. False when none is waiting.
bool receive_frames(zmq::socket_t& socket, Received& message, DropLog& dropped,
                    std::string* identity = nullptr);

// Calls `use` with the envelope in `frame`, or says why not (too large,
// misaligned, malformed: Cap'n Proto's limits apply), whatever the frame
// holds; what `use` throws is an error too.
Status with_envelope(const zmq::message_t& frame, const std::function<void(wire::Envelope::Reader)>& use);

}  // namespace canary::rt
