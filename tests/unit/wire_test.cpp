// The decoding boundary: a frame that is too large, misaligned or not a
// message at all is refused with a reason, before anything reads it.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

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

TEST_CASE("a message larger than a piece travels as pieces no larger, and arrives whole") {
  zmq::context_t context;
  zmq::socket_t out(context, zmq::socket_type::push), in(context, zmq::socket_type::pull);
  in.bind("inproc://pieces");
  out.connect("inproc://pieces");
  capnp::MallocMessageBuilder message;
  auto failure = message.initRoot<canary::wire::Envelope>().initFailure();
  std::string text(3 * kControlPieceBytes + 123, 'x');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 26);
  failure.setMessage(text);
  Frames frames = to_frames(message, kControlPieceBytes);
  REQUIRE(frames.size() == 4);
  for (const zmq::message_t& f : frames) CHECK(f.size() <= kControlPieceBytes);
  REQUIRE(send_frames(out, frames));
  zmq::message_t whole;
  DropLog dropped("test");
  zmq::pollitem_t item{in.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::seconds(5));
  REQUIRE(receive_frames(in, whole, dropped));
  std::string back;
  CHECK(with_envelope(whole, [&](canary::wire::Envelope::Reader e) {
          back = e.getFailure().getMessage();
        }).ok());
  CHECK(back == text);
}
