// libFuzzer: any bytes as a partition or a chunk of one, as a gather, a
// reduction, a broadcast or a handover reads them, in one piece and cut in
// three (as frames arrive). A malformed input must throw (and be dropped by
// the caller), never crash or over-read.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "fuzz_program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace canary;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string_view cut[] = {bytes.substr(0, size / 3), bytes.substr(size / 3, size / 3),
                            bytes.substr(size / 3 * 2)};
  rt::Pieces whole{&bytes, 1}, pieces{cut, 3};
  for (const rt::DatasetInfo& d : fuzz::program().datasets) {
    void* value = d.ops->create();
    try {
      d.ops->read(size % 2 ? whole : pieces, value);
      std::string again;
      d.ops->write(value, again);  // what was read writes back
    } catch (const std::exception&) {
    }
    d.ops->destroy(value);
  }
  try {
    (void)rt::read_chunks<fuzz::Contributions>({whole, pieces});  // as a gather or a reduction reads them
  } catch (const std::exception&) {
  }
  return 0;
}
