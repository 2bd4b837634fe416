// libFuzzer: any bytes as a frame from the network. with_envelope() and the
// decoders must turn every input into a value or an error, never a crash,
// a hang or an out-of-bounds access (AddressSanitizer watches).
#include <cstddef>
#include <cstdint>

#include "fuzz_program.h"
#include "wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace canary::rt;
  const Program& program = canary::fuzz::program();
  zmq::message_t frame(data, size);
  (void)with_envelope(frame, [&](canary::wire::Envelope::Reader e) {
    if (e.isData()) {
      Message m(Message::Kind::Signal, 0, 0);
      (void)decode_data(e.getData(), program, m);
    } else if (e.isHandover()) {
      Handover h;
      (void)decode_handover(e.getHandover(), program, h);
    } else if (e.isStart()) {
      PartitionMap map;
      (void)decode_map(e.getStart().getMap(), e.getStart().getPeers().size(), map);
    } else if (e.isMapUpdate()) {
      PartitionMap map;
      (void)decode_map(e.getMapUpdate().getMap(), 4, map);
    }
  });
  return 0;
}
