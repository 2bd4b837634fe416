// The decoding boundary: a frame that is too large, misaligned or not a
// message at all is refused with a reason, before anything reads it.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "../fuzz/fuzz_program.h"
#include "wire/codec.h"
#include "wire/frame.h"

using namespace canary::rt;

TEST_CASE("with_envelope refuses an oversized frame before reading it, and garbage with a reason") {
  bool used = false;
  auto use = [&](canary::wire::Envelope::Reader) { used = true; };
  zmq::message_t oversized(kMaxMessageBytes + 8);  // never touched: the size alone refuses it
  CHECK(with_envelope(oversized, use).why() ==
        "a message of " + std::to_string(kMaxMessageBytes + 8) + " bytes is over the limit");
  zmq::message_t empty;
  CHECK(with_envelope(empty, use).why() == "a frame of 0 bytes is not a message");
  zmq::message_t odd(std::string(13, 'x'));
  CHECK(with_envelope(odd, use).why() == "a frame of 13 bytes is not a message");
  std::string words(64, '\xff');  // a segment table claiming far more than there is
  zmq::message_t lie(words.data(), words.size());
  CHECK(with_envelope(lie, use).why().rfind("malformed message: ", 0) == 0);
  CHECK(!used);
}

namespace {

// `frames` sent from a PUSH socket to a PULL one over `endpoint`, as the
// PULL side receives them.
Received through_a_socket(Frames& frames, const std::string& endpoint) {
  zmq::context_t context;
  zmq::socket_t out(context, zmq::socket_type::push), in(context, zmq::socket_type::pull);
  in.bind(endpoint);
  out.connect(endpoint);
  REQUIRE(send_frames(out, frames));
  Received received;
  DropLog dropped("test");
  zmq::pollitem_t item{in.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::seconds(5));
  REQUIRE(receive_frames(in, received, dropped));
  return received;
}

}  // namespace

TEST_CASE("a message larger than a piece travels as pieces no larger, and arrives whole") {
  capnp::MallocMessageBuilder message;
  auto failure = message.initRoot<canary::wire::Envelope>().initFailure();
  std::string text(3 * kControlPieceBytes + 123, 'x');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 26);
  failure.setMessage(text);
  Frames frames = to_frames(message, kControlPieceBytes);
  REQUIRE(frames.size() == 4);
  for (const zmq::message_t& f : frames) CHECK(f.size() <= kControlPieceBytes);
  Received whole = through_a_socket(frames, "inproc://pieces");
  CHECK(whole.attachments.empty());
  std::string back;
  CHECK(with_envelope(whole.envelope, [&](canary::wire::Envelope::Reader e) {
          back = e.getFailure().getMessage();
        }).ok());
  CHECK(back == text);
}

namespace {

// A scatter's message to a worker holding partitions 0 and 1: a large
// chunk for one, a small one for the other.
Message chunks_with(const Bytes& large) {
  Message m(Message::Kind::Chunks, Seq(3), StageId(0), PartitionIndex(1));
  m.parts.push_back({PartitionIndex(0), Version(1), large});
  m.parts.push_back({PartitionIndex(1), Version(1), "small"});
  return m;
}

std::string pattern(std::size_t size) {
  std::string text(size, 0);
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>(i * 7 % 251);
  return text;
}

}  // namespace

TEST_CASE("a large chunk travels beside the envelope, sent from the sender's own bytes, and arrives whole") {
  const canary::rt::Program& program = canary::fuzz::program();
  std::string expected = pattern(2 * kDataPieceBytes + 12345);
  Bytes large(expected);
  Frames frames = encode_data(Epoch(0), chunks_with(large), program);
  // The envelope in one piece, then the chunk in pieces of a data socket's
  // size, the first of them the chunk's own memory.
  REQUIRE(frames.size() == 4);
  CHECK(frames[0].size() < 1024);
  CHECK(frames[1].data() == static_cast<const void*>(large.pieces().first[0].data()));
  for (std::size_t i = 1; i < frames.size(); ++i) CHECK(frames[i].size() <= kDataPieceBytes);

  Received received = through_a_socket(frames, "inproc://attachments");
  CHECK(received.attachments.size() == 3);
  Result<Envelope> decoded = decode(received, {program, 2});
  REQUIRE(decoded.ok());
  const Message& m = std::get<msg::Data>(decoded.value()).message;
  REQUIRE(m.parts.size() == 2);
  CHECK(m.parts[0].bytes == expected);
  CHECK(m.parts[1].bytes == "small");
}

TEST_CASE("an attachment the envelope declares and lacks, or one it does not declare, is refused") {
  const canary::rt::Program& program = canary::fuzz::program();
  auto received = [&](std::size_t drop, std::size_t extra) {
    Frames frames = encode_data(Epoch(0), chunks_with(pattern(kDataPieceBytes + 1)), program);
    Received r;
    r.envelope = std::move(frames[0]);
    for (std::size_t i = 1; i + drop < frames.size(); ++i) r.attachments.push_back(std::move(frames[i]));
    for (std::size_t i = 0; i < extra; ++i) r.attachments.emplace_back(std::string("junk"));
    return r;
  };
  Received whole = received(0, 0);
  CHECK(decode(whole, {program, 2}).ok());
  Received short_one = received(1, 0);
  CHECK(decode(short_one, {program, 2}).why() == "an attachment of 4194305 bytes is not there");
  Received long_one = received(0, 1);
  CHECK(decode(long_one, {program, 2}).why() == "frames after the last attachment");
  Received cut_wrong = received(1, 1);
  CHECK(decode(cut_wrong, {program, 2}).why() == "an attachment of 4194305 bytes is not there");
}
