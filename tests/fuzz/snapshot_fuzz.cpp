// libFuzzer: any bytes as a snapshot's partition file, then as one of its
// dataset files. The store must refuse what does not check out, never crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace canary::rt;
  static const std::string dir = "/tmp/canary-snapshot-fuzz-" + std::to_string(getpid());
  static const SnapshotStore store(dir, "fuzz");
  static const bool made = [] {
    std::filesystem::create_directories(dir + "/snapshot-1");
    PartitionWrite w;
    w.cut = Cut{1, 10, {true, false}};
    w.datasets = {{0, 3, 0}};
    w.serialize = [](int) { return std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8); };
    return store.write(w).empty();
  }();
  if (!made) return 0;
  for (const std::string& path : {store.path_of(1, 0, 0), store.data_path_of(1, 0, 0)}) {
    std::string original;
    {
      std::ifstream in(path, std::ios::binary);
      original.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), size);
    PartitionFile file;
    (void)store.read(1, 0, 0, file);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << original;
  }
  return 0;
}
