// libFuzzer: any bytes as a snapshot's partition file, then as one of its
// dataset files, each both as they come and behind a header that checks out
// (the right magic, size and CRC-32), so that the fuzzer reaches the
// decoding behind the checksum. The store must refuse what does not fit,
// never crash.
#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "store/snapshot.h"

namespace {

// A file's header as the store writes it: magic, contents' size and CRC-32
// (little-endian), 4 bytes of zero.
std::string with_header(const char* magic, std::string_view contents) {
  std::string out(magic, 8);
  auto put = [&out](std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i) & 0xff));
  };
  put(contents.size(), 8);
  put(crc32_z(crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(contents.data()), contents.size()), 4);
  put(0, 4);
  return out.append(contents);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace canary::rt;
  static const std::string dir = "/tmp/canary-snapshot-fuzz-" + std::to_string(getpid());
  static const SnapshotStore store(dir, "fuzz");
  static const bool made = [] {
    std::filesystem::create_directories(dir + "/snapshot-1");
    PartitionWrite w;
    w.cut = Cut{1, 10, {true, false}};
    w.datasets = {{DatasetId(0), 3, 0}};
    w.serialize = [](DatasetId) { return std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8); };
    return store.write(w).ok();
  }();
  if (!made) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const GroupPartition first{GroupId(0), PartitionIndex(0)};
  for (const auto& [path, magic] :
       {std::pair{store.path_of(1, first), "CNRYSNP2"},
        std::pair{store.data_path_of(1, DatasetId(0), PartitionIndex(0)), "CNRYDAT1"}}) {
    std::string original = slurp(path);
    for (const std::string& bytes : {std::string(input), with_header(magic, input)}) {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
      (void)store.read(1, first);
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << original;
  }
  return 0;
}
