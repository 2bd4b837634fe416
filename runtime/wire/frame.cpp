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

void release_attachment(void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); }

// Where the envelope ends: its size, from the segment table at the start of
// its first piece. A wrong answer from a hostile peer is caught by decoding.
std::size_t envelope_bytes(const zmq::message_t& first) {
  std::vector<capnp::word> prefix(std::min<std::size_t>(first.size(), 4096) / sizeof(capnp::word));
  std::memcpy(prefix.data(), first.data(), prefix.size() * sizeof(capnp::word));
  return capnp::expectedSizeInWordsFromPrefix(kj::ArrayPtr<const capnp::word>(prefix.data(), prefix.size())) *
         sizeof(capnp::word);
}

// Joins `frames[from, to)` into one frame.
zmq::message_t joined(Frames& frames, std::size_t from, std::size_t to) {
  if (to == from + 1) return std::move(frames[from]);
  std::size_t total = 0;
  for (std::size_t i = from; i < to; ++i) total += frames[i].size();
  zmq::message_t whole(total);
  std::size_t at = 0;
  for (std::size_t i = from; i < to; ++i) {
    std::memcpy(static_cast<char*>(whole.data()) + at, frames[i].data(), frames[i].size());
    at += frames[i].size();
  }
  return whole;
}

// Splits what arrived into the envelope's pieces, joined, and the attachments' frames.
Status split(Frames& frames, Received& message) {
  std::size_t envelope = envelope_bytes(frames[0]);
  std::size_t pieces = 0, bytes = 0;
  while (pieces < frames.size() && bytes < envelope) bytes += frames[pieces++].size();
  if (bytes != envelope && pieces > 1) return Status::error("an envelope cut in the wrong place");
  message.envelope = joined(frames, 0, pieces);
  message.attachments.clear();
  for (std::size_t i = pieces; i < frames.size(); ++i) message.attachments.push_back(std::move(frames[i]));
  return Status::fine();
}

}  // namespace

Frames to_frames(capnp::MessageBuilder& message, std::size_t piece, const std::vector<Bytes>& attachments) {
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
  for (const Bytes& a : attachments)
    a.each([&](const std::shared_ptr<const void>& keeper, std::string_view view) {
      for (std::size_t at = 0; at < view.size(); at += piece) {
        auto kept = std::make_unique<std::shared_ptr<const void>>(keeper);
        // ZeroMQ only reads what it sends; its API takes the bytes as mutable.
        char* bytes = const_cast<char*>(view.data()) + at;  // NOLINT(cppcoreguidelines-pro-type-const-cast)
        frames.emplace_back(bytes, std::min(piece, view.size() - at), &release_attachment, kept.get());
        (void)kept.release();  // the frame's now: release_attachment frees it
      }
    });
  return frames;
}

Result<Bytes> Attachments::next(std::uint64_t size) {
  std::size_t end = at_;
  std::uint64_t bytes = 0;
  while (bytes < size && end < frames_.size()) bytes += frames_[end++].size();
  if (bytes != size) return Status::error("an attachment of " + std::to_string(size) + " bytes is not there");
  std::vector<Bytes> parts;
  for (; at_ < end; ++at_) {
    auto frame = std::make_shared<zmq::message_t>(std::move(frames_[at_]));
    std::string_view view(static_cast<const char*>(frame->data()), frame->size());
    parts.emplace_back(std::move(frame), view);
  }
  return Bytes::joined(parts);
}

Status Attachments::finished() const {
  if (at_ != frames_.size()) return Status::error("frames after the last attachment");
  return Status::fine();
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

bool receive_frames(zmq::socket_t& socket, Received& message, DropLog& dropped, std::string* identity) {
  for (;;) {
    zmq::message_t first;
    if (!socket.recv(first, zmq::recv_flags::dontwait)) return false;
    if (identity) {
      *identity = first.to_string();
      if (!first.more() || !socket.recv(first, zmq::recv_flags::dontwait)) continue;
    }
    Frames frames;
    std::size_t total = first.size();
    bool more = first.more();
    frames.push_back(std::move(first));
    while (more) {
      zmq::message_t next;
      if (!socket.recv(next, zmq::recv_flags::dontwait)) break;  // cannot happen: multipart arrives whole
      more = next.more();
      total += next.size();
      if (total <= kMaxMessageBytes) frames.push_back(std::move(next));  // past the limit: read, dropped
    }
    if (total > kMaxMessageBytes) {
      dropped.about("a message of " + std::to_string(total) + " bytes is over the limit");
      continue;
    }
    Status cut = split(frames, message);
    if (!cut.ok()) {
      dropped.about(cut.why());
      continue;
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
