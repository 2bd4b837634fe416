#include "store/snapshot.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <kj/exception.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

#include "store/snapshot.capnp.h"

namespace canary::rt {

namespace fs = std::filesystem;

namespace {

// A file is this header, then its contents: a magic (which says whether a
// PartitionFile message or a dataset's bytes follow), the contents' size in
// bytes and their CRC-32, little-endian.
constexpr char kPartitionMagic[8] = {'C', 'N', 'R', 'Y', 'S', 'N', 'P', '2'};
constexpr char kDataMagic[8] = {'C', 'N', 'R', 'Y', 'D', 'A', 'T', '1'};
constexpr std::size_t kHeaderBytes = 8 + 8 + 4 + 4;
constexpr char kManifest[] = "COMPLETE";
constexpr char kRun[] = "RUN";

std::uint32_t crc_of(std::string_view bytes) {
  return static_cast<std::uint32_t>(
      crc32_z(crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t get_le(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= std::uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  return value;
}

std::string header(const char (&magic)[8], std::string_view contents) {
  std::string out(magic, sizeof magic);
  put_le(out, contents.size(), 8);
  put_le(out, crc_of(contents), 4);
  put_le(out, 0, 4);
  return out;
}

std::string system_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string temporary_name(const std::string& path) {
  std::ostringstream tmp;
  tmp << path << ".tmp." << getpid() << "." << std::hash<std::thread::id>()(std::this_thread::get_id());
  return tmp.str();
}

// Makes the renames into `dir` durable.
std::string sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return system_error("cannot open", dir);
  int synced = ::fsync(fd);
  ::close(fd);
  return synced == 0 ? "" : system_error("cannot fsync", dir);
}

// Writes `pieces` one after another to `path` so that a crash leaves either
// no file or the whole new one: a temporary name, fsync, rename (the caller
// makes the rename durable with sync_dir()). Without `sync`, the fsync is
// left to one barrier for many files (SnapshotStore::flush).
std::string write_durably(const std::string& path, std::initializer_list<std::string_view> pieces,
                          bool sync = true) {
  std::string tmp = temporary_name(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return system_error("cannot create", tmp);
  auto give_up = [&](const std::string& what) {
    std::string error = system_error(what, tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return error;
  };
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      ssize_t n = ::write(fd, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return give_up("cannot write");
      piece.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  if (sync && ::fsync(fd) != 0) return give_up("cannot fsync");
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string error = system_error("cannot rename to", path);
    ::unlink(tmp.c_str());
    return error;
  }
  return "";
}

// Gives the (durable) file `from` the name `to` as well.
bool link_durably(const std::string& from, const std::string& to) {
  std::string tmp = temporary_name(to);
  if (::link(from.c_str(), tmp.c_str()) != 0) return false;
  if (::rename(tmp.c_str(), to.c_str()) == 0) return true;
  ::unlink(tmp.c_str());
  return false;
}

std::string read_whole(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "it is missing";
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return "";
}

// A file written with header(): its contents, once the magic, the size and
// the CRC-32 check out; else why not.
std::string read_checked(const std::string& path, const char (&magic)[8], std::string& contents) {
  std::string bytes;
  std::string missing = read_whole(path, bytes);
  if (!missing.empty()) return missing;
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    return "it is not a Canary snapshot file of its kind";
  if (get_le(bytes, 8, 8) != bytes.size() - kHeaderBytes) return "it is truncated or has trailing bytes";
  contents = bytes.substr(kHeaderBytes);
  if (get_le(bytes, 16, 4) != crc_of(contents)) return "its checksum does not match: it is corrupt";
  return "";
}

// The size and CRC-32 a data file's header gives, if it is one.
std::optional<std::pair<std::uint64_t, std::uint32_t>> data_header(const std::string& path) {
  std::string head(kHeaderBytes, '\0');
  std::ifstream in(path, std::ios::binary);
  if (!in.read(head.data(), kHeaderBytes) || std::memcmp(head.data(), kDataMagic, sizeof kDataMagic) != 0)
    return std::nullopt;
  return std::make_pair(get_le(head, 8, 8), static_cast<std::uint32_t>(get_le(head, 16, 4)));
}

}  // namespace

Result<std::string> SnapshotStore::create_run_dir(const std::string& parent, const std::string& job) {
  std::error_code error;
  fs::create_directories(parent, error);
  if (error) return Status::error("cannot create the snapshot directory " + parent + ": " + error.message());
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string out = (fs::path(parent) / (job + "." + stamp + "." + std::to_string(getpid()))).string();
  if (!fs::create_directory(out, error) || error)
    return Status::error("cannot create " + out + ": " + (error ? error.message() : "it exists already"));
  return out;
}

Result<RunLock> RunLock::take(const std::string& dir) {
  std::string path = (fs::path(dir) / "LOCK").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error("cannot open " + path + ": " + std::strerror(errno));
  RunLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Status::error("cannot lock " + path + ": " + std::strerror(errno));
    std::string holder(256, '\0');
    ssize_t n = ::pread(fd, holder.data(), holder.size(), 0);
    holder.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    return Status::error(dir + " is in use by another controller" +
                         (holder.empty() ? std::string() : " (" + holder + ")") +
                         ": a run has one controller at a time; stop that one first, or wait for it to end");
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string holder = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, holder.data(), holder.size(), 0) < 0)
    return Status::error("cannot write " + path + ": " + std::strerror(errno));
  return Result<RunLock>(std::move(lock));
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string SnapshotStore::snapshot_dir(int snapshot) const {
  return (fs::path(dir_) / ("snapshot-" + std::to_string(snapshot))).string();
}

std::string SnapshotStore::path_of(int snapshot, GroupPartition which) const {
  return (fs::path(snapshot_dir(snapshot)) /
          ("g" + std::to_string(which.group.value()) + "-p" + std::to_string(which.partition.value())))
      .string();
}

std::string SnapshotStore::data_path_of(int snapshot, DatasetId dataset, PartitionIndex partition) const {
  return (fs::path(snapshot_dir(snapshot)) /
          ("d" + std::to_string(dataset.value()) + "-p" + std::to_string(partition.value())))
      .string();
}

namespace {

Status status_of(const std::string& error) { return error.empty() ? Status::fine() : Status::error(error); }

}  // namespace

Status SnapshotStore::write(const PartitionWrite& file) const {
  std::string dir = snapshot_dir(file.cut.snapshot);
  std::error_code fs_error;
  fs::create_directories(dir, fs_error);
  if (fs_error) return Status::error("cannot create " + dir + ": " + fs_error.message());
  // Each dataset's bytes first, so that the partition's file, written last,
  // never names bytes that are not there.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> sums;  // (size, CRC-32) per dataset
  for (const PartitionWrite::Dataset& d : file.datasets) {
    std::string path = data_path_of(file.cut.snapshot, d.dataset, file.which.partition);
    if (d.unchanged_since > 0) {
      std::string earlier = data_path_of(d.unchanged_since, d.dataset, file.which.partition);
      auto sum = data_header(earlier);
      if (sum && link_durably(earlier, path)) {
        sums.push_back(*sum);
        continue;
      }
    }
    std::string contents = file.serialize(d.dataset);
    std::string error = write_durably(path, {header(kDataMagic, contents), contents}, false);
    if (!error.empty()) return Status::error(error);
    sums.emplace_back(contents.size(), crc_of(contents));
  }

  capnp::MallocMessageBuilder message;
  auto f = message.initRoot<snap::PartitionFile>();
  f.setJob(job_);
  f.setSnapshot(static_cast<std::uint32_t>(file.cut.snapshot));
  f.setCutSeq(file.cut.seq);
  f.setSignalCount(file.cut.signals.size());
  auto bits = f.initSignals((file.cut.signals.size() + 7) / 8);
  for (std::size_t i = 0; i < file.cut.signals.size(); ++i)
    if (file.cut.signals[i]) bits[i / 8] = static_cast<kj::byte>(bits[i / 8] | (1u << (i % 8)));
  f.setGroup(static_cast<std::uint32_t>(file.which.group.value()));
  f.setPartition(static_cast<std::uint32_t>(file.which.partition.value()));
  auto datasets = f.initDatasets(static_cast<unsigned>(file.datasets.size()));
  for (std::size_t i = 0; i < file.datasets.size(); ++i) {
    datasets[i].setDataset(static_cast<std::uint32_t>(file.datasets[i].dataset.value()));
    datasets[i].setAccesses(file.datasets[i].accesses);
    datasets[i].setSize(sums[i].first);
    datasets[i].setCrc(sums[i].second);
  }
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  std::string_view contents(reinterpret_cast<const char*>(words.asBytes().begin()), words.asBytes().size());
  return status_of(write_durably(path_of(file.cut.snapshot, file.which),
                                 {header(kPartitionMagic, contents), contents}, false));
}

Status SnapshotStore::flush(int snapshot) const {
  std::string dir = snapshot_dir(snapshot);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::error(system_error("cannot open", dir));
  int synced = ::syncfs(fd);
  ::close(fd);
  return synced == 0 ? Status::fine() : Status::error(system_error("cannot sync the files of", dir));
}

Result<PartitionFile> SnapshotStore::read(int snapshot, GroupPartition which) const {
  std::string path = path_of(snapshot, which), contents;
  auto refused = [](const std::string& file, const std::string& why) {
    return Status::error("snapshot file " + file + " is refused: " + why);
  };
  std::string error = read_checked(path, kPartitionMagic, contents);
  if (!error.empty()) return refused(path, error);
  if (contents.size() % sizeof(capnp::word) != 0) return refused(path, "it is not a whole message");
  PartitionFile out;
  try {
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(contents.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), contents.data(), contents.size());
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = words.size() * 4 + 1024;
    limits.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(words, limits);
    auto f = reader.getRoot<snap::PartitionFile>();
    if (f.getJob() != job_)
      return refused(path, "it belongs to job '" + std::string(f.getJob().cStr()) + "'");
    if (f.getSnapshot() != static_cast<std::uint32_t>(snapshot) ||
        f.getGroup() != static_cast<std::uint32_t>(which.group.value()) ||
        f.getPartition() != static_cast<std::uint32_t>(which.partition.value()))
      return refused(path, "it holds another snapshot or partition than its name says");
    auto bits = f.getSignals();
    if (f.getSignalCount() > bits.size() * std::uint64_t{8})
      return refused(path, "its signal values are cut short");
    out.cut.snapshot = snapshot;
    out.cut.seq = f.getCutSeq();
    for (std::uint64_t i = 0; i < f.getSignalCount(); ++i)
      out.cut.signals.push_back(bits[i / 8] >> (i % 8) & 1);
    out.which = which;
    for (auto d : f.getDatasets()) {
      PartitionBytes& dataset = out.datasets.emplace_back();
      dataset.dataset = DatasetId(static_cast<int>(std::min(d.getDataset(), 1u << 30)));
      dataset.accesses = d.getAccesses();
      std::string data_path = data_path_of(snapshot, dataset.dataset, which.partition);
      std::string bytes;
      error = read_checked(data_path, kDataMagic, bytes);
      if (error.empty() && (bytes.size() != d.getSize() || crc_of(bytes) != d.getCrc()))
        error = "it holds other bytes than " + path + " says";
      dataset.bytes = std::move(bytes);
      if (!error.empty()) return refused(data_path, error);
    }
  } catch (const kj::Exception& e) {
    return refused(path, std::string("it is malformed: ") + e.getDescription().cStr());
  }
  return out;
}

Status SnapshotStore::mark_complete(int snapshot, std::size_t partitions,
                                    const std::vector<Outputs::Entry>& outputs) const {
  nlohmann::json made = nlohmann::json::array();
  for (const Outputs::Entry& o : outputs)
    made.push_back({{"key", o.key},
                    {"stage", o.stage.value()},
                    {"index", o.index},
                    {"seq", o.seq.value()},
                    {"json", o.json}});
  std::string manifest =
      nlohmann::json(
          {{"job", job_}, {"snapshot", snapshot}, {"partitions", partitions}, {"outputs", std::move(made)}})
          .dump() +
      "\n";
  std::string error = write_durably((fs::path(snapshot_dir(snapshot)) / kManifest).string(), {manifest});
  return status_of(error.empty() ? sync_dir(snapshot_dir(snapshot)) : error);
}

Status SnapshotStore::verify(int snapshot, const std::vector<GroupPartition>& partitions) const {
  std::string text;
  std::string manifest_path = (fs::path(snapshot_dir(snapshot)) / kManifest).string();
  if (!read_whole(manifest_path, text).empty())
    return Status::error("snapshot " + std::to_string(snapshot) + " is incomplete");
  nlohmann::json manifest = nlohmann::json::parse(text, nullptr, false);
  if (manifest.is_discarded() || manifest.value("job", "") != job_ ||
      manifest.value("snapshot", -1) != snapshot ||
      manifest.value("partitions", std::size_t{0}) != partitions.size())
    return Status::error("the manifest " + manifest_path + " does not describe this snapshot");
  std::optional<std::uint64_t> cut;
  for (GroupPartition which : partitions) {
    Result<PartitionFile> file = read(snapshot, which);
    if (!file.ok()) return file.status();
    if (!cut) cut = file.value().cut.seq;
    if (file.value().cut.seq != *cut)
      return Status::error("the files of snapshot " + std::to_string(snapshot) + " disagree on its cut");
  }
  return Status::fine();
}

Result<std::vector<Outputs::Entry>> SnapshotStore::outputs_of(int snapshot) const {
  std::string text, path = (fs::path(snapshot_dir(snapshot)) / kManifest).string();
  if (!read_whole(path, text).empty()) return Status::error("cannot read " + path);
  nlohmann::json manifest = nlohmann::json::parse(text, nullptr, false);
  std::vector<Outputs::Entry> out;
  try {
    for (const nlohmann::json& o : manifest.at("outputs"))
      out.push_back({o.at("key").get<std::string>(), StageId(o.at("stage").get<int>()),
                     o.at("index").get<int>(), Seq(o.at("seq").get<std::uint64_t>()),
                     o.at("json").get<std::string>()});
  } catch (const nlohmann::json::exception&) {
    return Status::error("the manifest " + path + " is malformed");
  }
  return out;
}

std::vector<int> SnapshotStore::marked_complete() const {
  std::vector<int> found;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, error)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("snapshot-", 0) != 0 || !fs::exists(entry.path() / kManifest, error)) continue;
    int k = std::atoi(name.c_str() + 9);
    if (k > 0) found.push_back(k);
  }
  std::sort(found.rbegin(), found.rend());
  return found;
}

Status SnapshotStore::write_run(const RunRecord& run) const {
  std::string text = nlohmann::json({{"job", run.job},
                                     {"graph", run.graph},
                                     {"params", run.params},
                                     {"snapshot_every", run.snapshot_every}})
                         .dump() +
                     "\n";
  std::string error = write_durably((fs::path(dir_) / kRun).string(), {text});
  return status_of(error.empty() ? sync_dir(dir_) : error);
}

Result<RunRecord> SnapshotStore::read_run(const std::string& dir) {
  std::string text, path = (fs::path(dir) / kRun).string();
  if (!read_whole(path, text).empty())
    return Status::error(dir + " holds no run to resume (no readable " + kRun +
                         "; give the run's directory, " + "JOB.DATE-TIME.PID under --snapshot-dir)");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  RunRecord run;
  try {
    run.job = j.at("job").get<std::string>();
    run.graph = j.at("graph").get<std::uint64_t>();
    run.params = j.at("params").get<std::vector<std::string>>();
    run.snapshot_every = j.at("snapshot_every").get<int>();
  } catch (const nlohmann::json::exception&) {
    return Status::error(path + " is malformed: it cannot be resumed");
  }
  if (run.snapshot_every < 1) return Status::error(path + " is malformed: it cannot be resumed");
  return run;
}

void SnapshotStore::prune(const std::vector<int>& keep) const {
  if (keep.empty()) return;
  int newest = *std::max_element(keep.begin(), keep.end());
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, error)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("snapshot-", 0) != 0) continue;
    int k = std::atoi(name.c_str() + 9);
    if (k < newest && std::find(keep.begin(), keep.end(), k) == keep.end())
      fs::remove_all(entry.path(), error);
  }
}

void SnapshotStore::remove_all() const {
  std::error_code error;
  fs::remove_all(dir_, error);
}

}  // namespace canary::rt
