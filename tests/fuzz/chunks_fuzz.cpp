// libFuzzer: any bytes as a partition or a chunk of one, as a gather, a
// reduction, a broadcast or a handover reads them. A malformed input must
// throw (and be dropped by the caller), never crash or over-read.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "fuzz_program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace canary;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const rt::DatasetInfo& d : fuzz::program().datasets) {
    void* value = d.ops->create();
    try {
      d.ops->read(bytes, value);
      std::string again;
      d.ops->write(value, again);  // what was read writes back
    } catch (const std::exception&) {
    }
    d.ops->destroy(value);
  }
  try {
    (void)rt::read_all<fuzz::Contributions>({bytes, bytes.substr(size / 2)});
  } catch (const std::exception&) {
  }
  return 0;
}
