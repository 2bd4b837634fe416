// libFuzzer: any bytes as a message from the network, an envelope with the
// same bytes again as attachments, cut in up to three frames (so that the
// sizes an envelope declares for its attachments are fuzzed too). decode()
// must turn every input into a message or an error, never a crash, a hang
// or an out-of-bounds access (AddressSanitizer watches).
#include <cstddef>
#include <cstdint>

#include "fuzz_program.h"
#include "wire/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace canary::rt;
  Received message;
  message.envelope = zmq::message_t(data, size);
  std::size_t cuts = size % 4;
  for (std::size_t i = 0; i < cuts; ++i)
    message.attachments.emplace_back(data + size * i / cuts, size * (i + 1) / cuts - size * i / cuts);
  (void)decode(message, {canary::fuzz::program(), 4});
  return 0;
}
