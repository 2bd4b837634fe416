#include "wire/frame.h"

#include <capnp/serialize.h>
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

Status with_envelope(const zmq::message_t& frame, const std::function<void(wire::Envelope::Reader)>& use) {
  if (frame.empty() || frame.size() % sizeof(capnp::word) != 0)
    return Status::error("a frame of " + std::to_string(frame.size()) + " bytes is not a message");
  if (frame.size() > kMaxMessageBytes)
    return Status::error("a message of " + std::to_string(frame.size()) + " bytes is over the limit");
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
    return Status::fine();
  } catch (const kj::Exception& e) {
    return Status::error(std::string("malformed message: ") + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return Status::error(std::string("malformed message: ") + e.what());
  }
}

}  // namespace canary::rt
