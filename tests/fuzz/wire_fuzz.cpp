// libFuzzer: any bytes as a frame from the network. decode() must turn every
// input into a message or an error, never a crash, a hang or an
// out-of-bounds access (AddressSanitizer watches).
#include <cstddef>
#include <cstdint>

#include "fuzz_program.h"
#include "wire/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace canary::rt;
  zmq::message_t frame(data, size);
  (void)decode(frame, {canary::fuzz::program(), 4});
  return 0;
}
