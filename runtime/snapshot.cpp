#include "snapshot.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <kj/exception.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "snapshot.capnp.h"

namespace canary::rt {

namespace fs = std::filesystem;

namespace {

// A file is this header, then the Cap'n Proto message: the magic, the
// message's size in bytes and its CRC-32, little-endian.
constexpr char kMagic[8] = {'C', 'N', 'R', 'Y', 'S', 'N', 'P', '1'};
constexpr std::size_t kHeaderBytes = 8 + 8 + 4 + 4;
constexpr char kManifest[] = "COMPLETE";

std::uint32_t crc_of(const void* data, std::size_t size) {
  return static_cast<std::uint32_t>(crc32_z(crc32_z(0, nullptr, 0), static_cast<const Bytef*>(data), size));
}

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t get_le(const std::string& in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= std::uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  return value;
}

std::string system_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Writes `bytes` to `path` so that a crash leaves either the old file or the
// whole new one: a temporary name, fsync, rename, and fsync of the directory
// so that the rename itself is durable.
std::string write_durably(const std::string& path, const std::string& bytes) {
  std::ostringstream tmp;
  tmp << path << ".tmp." << getpid() << "." << std::hash<std::thread::id>()(std::this_thread::get_id());
  int fd = ::open(tmp.str().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return system_error("cannot create", tmp.str());
  std::size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string error = system_error("cannot write", tmp.str());
      ::close(fd);
      ::unlink(tmp.str().c_str());
      return error;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string error = system_error("cannot fsync", tmp.str());
    ::close(fd);
    ::unlink(tmp.str().c_str());
    return error;
  }
  ::close(fd);
  if (::rename(tmp.str().c_str(), path.c_str()) != 0) {
    std::string error = system_error("cannot rename to", path);
    ::unlink(tmp.str().c_str());
    return error;
  }
  std::string dir = fs::path(path).parent_path().string();
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return system_error("cannot open", dir);
  int synced = ::fsync(dir_fd);
  ::close(dir_fd);
  return synced == 0 ? "" : system_error("cannot fsync", dir);
}

std::string read_whole(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "it is missing";
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return "";
}

}  // namespace

std::string SnapshotStore::create_run_dir(const std::string& parent, const std::string& job,
                                          std::string& out) {
  std::error_code error;
  fs::create_directories(parent, error);
  if (error) return "cannot create the snapshot directory " + parent + ": " + error.message();
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  out = (fs::path(parent) / (job + "." + stamp + "." + std::to_string(getpid()))).string();
  if (!fs::create_directory(out, error) || error)
    return "cannot create " + out + ": " + (error ? error.message() : "it exists already");
  return "";
}

std::string SnapshotStore::snapshot_dir(int snapshot) const {
  return (fs::path(dir_) / ("snapshot-" + std::to_string(snapshot))).string();
}

std::string SnapshotStore::path_of(int snapshot, int group, int partition) const {
  return (fs::path(snapshot_dir(snapshot)) / ("g" + std::to_string(group) + "-p" + std::to_string(partition)))
      .string();
}

std::string SnapshotStore::write(const PartitionFile& file) const {
  capnp::MallocMessageBuilder message;
  auto f = message.initRoot<snap::PartitionFile>();
  f.setJob(job_);
  f.setSnapshot(static_cast<std::uint32_t>(file.cut.snapshot));
  f.setCutSeq(file.cut.seq);
  f.setSignalCount(file.cut.signals.size());
  auto bits = f.initSignals((file.cut.signals.size() + 7) / 8);
  for (std::size_t i = 0; i < file.cut.signals.size(); ++i)
    if (file.cut.signals[i]) bits[i / 8] = static_cast<kj::byte>(bits[i / 8] | (1u << (i % 8)));
  f.setGroup(static_cast<std::uint32_t>(file.group));
  f.setPartition(static_cast<std::uint32_t>(file.partition));
  auto datasets = f.initDatasets(static_cast<unsigned>(file.datasets.size()));
  for (std::size_t i = 0; i < file.datasets.size(); ++i) {
    const Handover::Dataset& d = file.datasets[i];
    datasets[i].setDataset(static_cast<std::uint32_t>(d.dataset));
    datasets[i].setAccesses(d.accesses);
    datasets[i].setBytes(
        kj::ArrayPtr<const kj::byte>(reinterpret_cast<const kj::byte*>(d.bytes.data()), d.bytes.size()));
  }
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  kj::ArrayPtr<const kj::byte> payload = words.asBytes();
  std::string bytes(kMagic, sizeof kMagic);
  put_le(bytes, payload.size(), 8);
  put_le(bytes, crc_of(payload.begin(), payload.size()), 4);
  put_le(bytes, 0, 4);
  bytes.append(reinterpret_cast<const char*>(payload.begin()), payload.size());

  std::error_code error;
  fs::create_directories(snapshot_dir(file.cut.snapshot), error);
  if (error) return "cannot create " + snapshot_dir(file.cut.snapshot) + ": " + error.message();
  return write_durably(path_of(file.cut.snapshot, file.group, file.partition), bytes);
}

std::string SnapshotStore::read(int snapshot, int group, int partition, PartitionFile& out) const {
  std::string path = path_of(snapshot, group, partition), bytes;
  auto bad = [&](const std::string& why) { return "snapshot file " + path + " is refused: " + why; };
  std::string missing = read_whole(path, bytes);
  if (!missing.empty()) return bad(missing);
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return bad("it is not a Canary snapshot file");
  std::uint64_t size = get_le(bytes, 8, 8);
  if (size != bytes.size() - kHeaderBytes || size % sizeof(capnp::word) != 0)
    return bad("it is truncated or has trailing bytes");
  if (get_le(bytes, 16, 4) != crc_of(bytes.data() + kHeaderBytes, size))
    return bad("its checksum does not match: it is corrupt");
  try {
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data() + kHeaderBytes, size);
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = words.size() * 4 + 1024;
    limits.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(words, limits);
    auto f = reader.getRoot<snap::PartitionFile>();
    if (f.getJob() != job_) return bad("it belongs to job '" + std::string(f.getJob().cStr()) + "'");
    if (f.getSnapshot() != static_cast<std::uint32_t>(snapshot) ||
        f.getGroup() != static_cast<std::uint32_t>(group) ||
        f.getPartition() != static_cast<std::uint32_t>(partition))
      return bad("it holds another snapshot or partition than its name says");
    auto bits = f.getSignals();
    if (f.getSignalCount() > bits.size() * std::uint64_t{8}) return bad("its signal values are cut short");
    out = PartitionFile{};
    out.cut.snapshot = snapshot;
    out.cut.seq = f.getCutSeq();
    for (std::uint64_t i = 0; i < f.getSignalCount(); ++i)
      out.cut.signals.push_back(bits[i / 8] >> (i % 8) & 1);
    out.group = group;
    out.partition = partition;
    for (auto d : f.getDatasets()) {
      auto b = d.getBytes();
      out.datasets.push_back(
          {static_cast<int>(d.getDataset()), d.getAccesses(), std::string(b.begin(), b.end())});
    }
  } catch (const kj::Exception& e) {
    return bad(std::string("it is malformed: ") + e.getDescription().cStr());
  }
  return "";
}

std::string SnapshotStore::mark_complete(int snapshot, std::size_t partitions) const {
  nlohmann::json manifest = {{"job", job_}, {"snapshot", snapshot}, {"partitions", partitions}};
  return write_durably((fs::path(snapshot_dir(snapshot)) / kManifest).string(), manifest.dump() + "\n");
}

std::string SnapshotStore::verify(int snapshot, const std::vector<GroupPartition>& partitions) const {
  std::string text;
  std::string manifest_path = (fs::path(snapshot_dir(snapshot)) / kManifest).string();
  if (!read_whole(manifest_path, text).empty())
    return "snapshot " + std::to_string(snapshot) + " is incomplete";
  nlohmann::json manifest = nlohmann::json::parse(text, nullptr, false);
  if (manifest.is_discarded() || manifest.value("job", "") != job_ ||
      manifest.value("snapshot", -1) != snapshot ||
      manifest.value("partitions", std::size_t{0}) != partitions.size())
    return "the manifest " + manifest_path + " does not describe this snapshot";
  std::optional<std::uint64_t> cut;
  for (const auto& [group, partition] : partitions) {
    PartitionFile file;
    std::string error = read(snapshot, group, partition, file);
    if (!error.empty()) return error;
    if (!cut) cut = file.cut.seq;
    if (file.cut.seq != *cut)
      return "the files of snapshot " + std::to_string(snapshot) + " disagree on its cut";
  }
  return "";
}

void SnapshotStore::prune(const std::vector<int>& keep) const {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, error)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("snapshot-", 0) != 0) continue;
    int k = std::atoi(name.c_str() + 9);
    if (std::find(keep.begin(), keep.end(), k) == keep.end()) fs::remove_all(entry.path(), error);
  }
}

void SnapshotStore::remove_all() const {
  std::error_code error;
  fs::remove_all(dir_, error);
}

}  // namespace canary::rt
