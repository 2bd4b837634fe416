// The decoding boundary: a frame that is too large, misaligned or not a
// message at all is refused with a reason, before anything reads it.
#include "wire.h"

#include <doctest/doctest.h>

using namespace canary::rt;

TEST_CASE("with_envelope refuses an oversized frame before reading it, and garbage with a reason") {
  bool used = false;
  auto use = [&](canary::wire::Envelope::Reader) { used = true; };
  zmq::message_t oversized(kMaxFrameBytes + 8);  // never touched: the size alone refuses it
  CHECK(with_envelope(oversized, use) ==
        "a frame of " + std::to_string(kMaxFrameBytes + 8) + " bytes is over the limit");
  zmq::message_t empty;
  CHECK(with_envelope(empty, use) == "a frame of 0 bytes is not a message");
  zmq::message_t odd(std::string(13, 'x'));
  CHECK(with_envelope(odd, use) == "a frame of 13 bytes is not a message");
  std::string words(64, '\xff');  // a segment table claiming far more than there is
  zmq::message_t lie(words.data(), words.size());
  CHECK(with_envelope(lie, use).rfind("malformed message: ", 0) == 0);
  CHECK(!used);
}
