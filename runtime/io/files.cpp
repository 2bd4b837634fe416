#include "io/files.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace canary::rt {

namespace fs = std::filesystem;

namespace {

constexpr const char* kTemporary = "_temporary";
constexpr const char* kSuccess = "_SUCCESS";

bool ends_with(const std::string& s, const char* suffix) {
  std::size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string errno_text() { return std::strerror(errno); }

// A file descriptor closed when it goes.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Appends bytes [from, to) of `path` to `out`; short only at the file's end.
void read_range(const std::string& path, int fd, std::uint64_t from, std::uint64_t to, std::string& out) {
  std::size_t at = out.size();
  out.resize(at + (to - from));
  std::uint64_t done = 0;
  while (from + done < to) {
    ssize_t n = ::pread(fd, out.data() + at + done, to - from - done, static_cast<off_t>(from + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InputError(path + ": cannot read: " + errno_text());
    if (n == 0) break;
    done += static_cast<std::uint64_t>(n);
  }
  out.resize(at + done);
}

// The whole of a (gzip or plain) file, decompressed.
std::string read_gzip(const std::string& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) throw InputError(path + ": cannot open: " + errno_text());
  gzbuffer(in, 1 << 17);
  std::string out;
  char block[1 << 16];
  int n;
  while ((n = gzread(in, block, sizeof block)) > 0) out.append(block, static_cast<std::size_t>(n));
  int error = 0;
  std::string why = n < 0 ? gzerror(in, &error) : "";
  gzclose(in);
  if (n < 0) throw InputError(path + ": cannot decompress: " + why);
  return out;
}

// 1 + the line ends in the first `offset` bytes of the (decompressed) file:
// the line number there. Only a failing task asks, so it reads again.
std::uint64_t line_number(const std::string& path, std::uint64_t offset) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) return 0;
  std::uint64_t lines = 1, seen = 0;
  char block[1 << 16];
  while (seen < offset) {
    int n = gzread(in, block, static_cast<unsigned>(std::min<std::uint64_t>(sizeof block, offset - seen)));
    if (n <= 0) break;
    lines += static_cast<std::uint64_t>(std::count(block, block + n, '\n'));
    seen += static_cast<std::uint64_t>(n);
  }
  gzclose(in);
  return lines;
}

// A range of bytes of a file: [begin, end).
struct ByteRange {
  std::uint64_t begin, end;
};

// The first line start at or after `a` (a line starts at 0 and after '\n'),
// reading from `fd`; the file's size if none.
std::uint64_t line_start_at_or_after(const InputFile& file, int fd, std::uint64_t a) {
  if (a == 0) return 0;
  std::string block;
  for (std::uint64_t at = a - 1; at < file.bytes; at += block.size()) {
    block.clear();
    read_range(file.path, fd, at, std::min<std::uint64_t>(file.bytes, at + (1 << 16)), block);
    if (block.empty()) break;
    if (std::size_t nl = block.find('\n'); nl != std::string::npos) return at + nl + 1;
  }
  return file.bytes;
}

// Appends to `buffer` the lines of `file` whose first byte is in `range`.
void read_lines(const InputFile& file, int fd, ByteRange range, std::string& buffer,
                std::vector<Split::Piece>& pieces) {
  std::uint64_t start = line_start_at_or_after(file, fd, range.begin), b = range.end;
  if (start >= b) return;
  std::size_t offset = buffer.size();
  read_range(file.path, fd, start, b, buffer);
  // The last line that starts before b runs on to its line end.
  std::uint64_t end = start + (buffer.size() - offset);
  while (end < file.bytes && buffer.back() != '\n') {
    std::size_t before = buffer.size();
    read_range(file.path, fd, end, std::min<std::uint64_t>(file.bytes, end + (1 << 16)), buffer);
    if (buffer.size() == before) break;
    if (std::size_t nl = buffer.find('\n', before); nl != std::string::npos) buffer.resize(nl + 1);
    end += buffer.size() - before;
  }
  pieces.push_back({file.path, start, offset, buffer.size() - offset});
}

}  // namespace

Result<std::vector<InputFile>> resolve_input(const std::string& path) {
  std::vector<std::string> names;
  if (path.find_first_of("*?[") != std::string::npos) {
    glob_t matches{};
    int r = ::glob(path.c_str(), GLOB_ERR, nullptr, &matches);
    for (std::size_t i = 0; r == 0 && i < matches.gl_pathc; ++i) names.emplace_back(matches.gl_pathv[i]);
    globfree(&matches);
    if (r == GLOB_NOMATCH || names.empty()) return Status::error("matches no file");
    if (r != 0) return Status::error("cannot be searched");
  } else {
    std::error_code error;
    fs::file_status status = fs::status(path, error);
    if (error || !fs::exists(status)) return Status::error("does not exist");
    if (fs::is_directory(status)) {
      for (const fs::directory_entry& e : fs::directory_iterator(path, error)) {
        std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '.' || name[0] == '_') continue;
        names.push_back(e.path().string());
      }
      if (error) return Status::error("cannot be listed: " + error.message());
      if (names.empty()) return Status::error("is a directory without files");
    } else {
      names.push_back(path);
    }
  }
  std::sort(names.begin(), names.end());
  std::vector<InputFile> files;
  for (const std::string& name : names) {
    struct stat st {};
    if (::stat(name.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    files.push_back({name, static_cast<std::uint64_t>(st.st_size), ends_with(name, ".gz")});
  }
  if (files.empty()) return Status::error("matches no regular file");
  return files;
}

// Splits are cut by bytes across the files, in order: split i holds what
// starts in [total*i/parts, total*(i+1)/parts). A gzip file is not cut: it
// goes whole to the split its first byte is in.
canary::Split open_split(const std::string& path, std::size_t record_bytes, const Task& task) {
  int index = task.index(), parts = task.partitions();
  Result<std::vector<InputFile>> files = resolve_input(path);
  if (!files.ok()) throw InputError(path + ": " + files.why());
  std::uint64_t total = 0;
  for (const InputFile& f : files.value()) total += f.bytes;
  auto bound = [&](int i) {
    return static_cast<std::uint64_t>(static_cast<unsigned __int128>(total) * static_cast<unsigned>(i) /
                                      static_cast<unsigned>(parts));
  };
  std::uint64_t lo = bound(index), hi = bound(index + 1), at = 0;
  std::string buffer;
  std::vector<Split::Piece> pieces;
  for (const InputFile& f : files.value()) {
    std::uint64_t g0 = at;
    at += f.bytes;
    if (f.gzip) {
      if (g0 < lo || g0 >= hi) continue;
      std::size_t offset = buffer.size();
      buffer += read_gzip(f.path);
      std::size_t size = buffer.size() - offset;
      if (record_bytes > 0 && size % record_bytes != 0)
        throw InputError(f.path + ": " + std::to_string(size) + " bytes decompressed, not a multiple of " +
                         std::to_string(record_bytes) + "-byte records");
      pieces.push_back({f.path, 0, offset, size});
      continue;
    }
    std::uint64_t a = std::max(lo, g0) - g0, b = std::min(hi, g0 + f.bytes);
    if (b <= g0 + a) continue;
    b -= g0;
    Fd fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw InputError(f.path + ": cannot open: " + errno_text());
    if (record_bytes == 0) {
      read_lines(f, fd.get(), {a, b}, buffer, pieces);
      continue;
    }
    if (f.bytes % record_bytes != 0)
      throw InputError(f.path + ": " + std::to_string(f.bytes) + " bytes, not a multiple of " +
                       std::to_string(record_bytes) + "-byte records");
    auto round_up = [&](std::uint64_t x) { return (x + record_bytes - 1) / record_bytes * record_bytes; };
    std::uint64_t start = round_up(a), end = std::min(round_up(b), f.bytes);
    if (start >= end) continue;
    std::size_t offset = buffer.size();
    read_range(f.path, fd.get(), start, end, buffer);
    pieces.push_back({f.path, start, offset, buffer.size() - offset});
  }
  return canary::Split(
      std::move(buffer), std::move(pieces), record_bytes,
      [](const Split::Piece& p, std::uint64_t offset) { return line_number(p.file, offset); });
}

namespace {

std::string part_name(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "part-%05d", index);
  return name;
}

// part-NNNNN.s<20-digit instance>: names sort by partition, then instance.
std::string temporary_part(const std::string& dir, int index, std::uint64_t seq) {
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".s%020llu", static_cast<unsigned long long>(seq));
  return (fs::path(dir) / kTemporary / (part_name(index) + suffix)).string();
}

// What this process last wrote for each part, so that a write inside a loop
// keeps one file per partition, not one per iteration.
std::mutex last_written_mutex;
std::map<std::pair<std::string, int>, std::string> last_written;

class PartFileOnDisk final : public PartFile {
 public:
  PartFileOnDisk(const std::string& dir, int index, std::uint64_t seq)
      : dir_(dir), index_(index), final_(temporary_part(dir, index, seq)) {
    static std::atomic<unsigned> counter{0};
    writing_ = final_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    fd_ = ::open(writing_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot create " + writing_ + ": " + errno_text());
  }
  ~PartFileOnDisk() override {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(writing_.c_str());
    }
  }
  void append(std::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error("cannot write " + writing_ + ": " + errno_text());
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void close() override {
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0 || ::rename(writing_.c_str(), final_.c_str()) != 0) {
      ::unlink(writing_.c_str());
      throw std::runtime_error("cannot write " + final_ + ": " + errno_text());
    }
    std::lock_guard<std::mutex> lock(last_written_mutex);
    std::string& last = last_written[{dir_, index_}];
    if (!last.empty() && last != final_) ::unlink(last.c_str());
    last = final_;
  }

 private:
  std::string dir_;
  int index_;
  std::string final_, writing_;
  int fd_ = -1;
};

// The read and write stages' paths, as the parameters make them.
std::vector<StageFiles> files_of(const Program& program, const void* params) {
  std::vector<StageFiles> files;
  if (program.evaluate_files) program.evaluate_files(params, files);
  return files;
}

int partitions_of_stage(const Program& program, const void* params, int stage) {
  std::vector<int> partitions, loops;
  program.counts(params, partitions, loops);
  int d = program.stages[stage].main_partitions_of();
  return d >= 0 ? partitions[d] : 1;
}

Status refused(const Program& program, const StageFiles& f, const std::string& why) {
  const StageInfo& s = program.stages[f.stage];
  return Status::error(std::string(s.kind == StageKind::Read ? "input" : "output") + " '" + f.path +
                       "' of stage '" + s.name + "' " + why);
}

Status commit(const Program& program, const void* params, const StageFiles& f) {
  int parts = partitions_of_stage(program, params, f.stage);
  fs::path dir(f.path), temporary = dir / kTemporary;
  // Each partition's newest instance; every partition ran the last one.
  std::map<int, std::pair<std::uint64_t, fs::path>> newest;
  std::error_code error;
  for (const fs::directory_entry& e : fs::directory_iterator(temporary, error)) {
    std::string name = e.path().filename().string();
    int index = -1;
    unsigned long long seq = 0;
    int used = 0;
    if (std::sscanf(name.c_str(), "part-%d.s%llu%n", &index, &seq, &used) != 2 ||
        used != static_cast<int>(name.size()) || index < 0 || index >= parts)
      continue;  // a temporary name of a task that did not finish
    auto it = newest.find(index);
    if (it == newest.end() || seq > it->second.first) newest[index] = {seq, e.path()};
  }
  if (error) return refused(program, f, "cannot be committed: " + error.message());
  if (newest.empty()) {  // the stage never ran (a branch not taken): the earlier output stays
    fs::remove_all(temporary, error);
    return Status::fine();
  }
  for (int i = 0; i < parts; ++i)
    if (!newest.count(i) || newest[i].first != newest.begin()->second.first)
      return refused(
          program, f,
          "cannot be committed: partition " + std::to_string(i) + " did not write the stage's last run");
  for (const fs::directory_entry& e : fs::directory_iterator(dir, error)) {
    std::string name = e.path().filename().string();
    if (name.rfind("part-", 0) == 0 || name == kSuccess) fs::remove(e.path(), error);
  }
  nlohmann::ordered_json listing = nlohmann::ordered_json::array();
  for (const auto& [index, entry] : newest) {
    fs::path to = dir / part_name(index);
    fs::rename(entry.second, to, error);
    if (error) return refused(program, f, "cannot be committed: " + error.message());
    listing.push_back({{"name", part_name(index)}, {"bytes", fs::file_size(to)}});
  }
  std::string success = nlohmann::ordered_json{{"files", listing}}.dump() + "\n";
  std::string tmp = (dir / (std::string(kSuccess) + ".tmp")).string();
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0 ||
      ::write(out.get(), success.data(), success.size()) != static_cast<ssize_t>(success.size()) ||
      ::fsync(out.get()) != 0 || ::rename(tmp.c_str(), (dir / kSuccess).c_str()) != 0)
    return refused(program, f,
                   "cannot be committed: cannot write " + std::string(kSuccess) + ": " + errno_text());
  fs::remove_all(temporary, error);
  return Status::fine();
}

}  // namespace

std::unique_ptr<PartFile> open_part(const std::string& dir, int index, std::uint64_t seq) {
  return std::make_unique<PartFileOnDisk>(dir, index, seq);
}

Status prepare_files(const Program& program, const void* params, RunStart start) {
  for (const StageFiles& f : files_of(program, params)) {
    if (program.stages[f.stage].kind == StageKind::Read) {
      Result<std::vector<InputFile>> files = resolve_input(f.path);
      if (!files.ok()) return refused(program, f, files.why());
      for (const InputFile& file : files.value()) {
        // Once, here: every task opens only the files of its own split.
        if (Fd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC)); fd.get() < 0)
          return refused(program, f, "holds '" + file.path + "', which cannot be read: " + errno_text());
        if (f.record_bytes > 0 && !file.gzip && file.bytes % f.record_bytes != 0)
          return refused(program, f,
                         "holds '" + file.path + "' of " + std::to_string(file.bytes) +
                             " bytes, not a multiple of its " + std::to_string(f.record_bytes) +
                             "-byte records");
      }
      continue;
    }
    std::error_code error;
    fs::path dir(f.path);
    fs::create_directories(dir, error);
    if (!error && !fs::is_directory(dir, error)) return refused(program, f, "is not a directory");
    if (!error && start == RunStart::Fresh) fs::remove_all(dir / kTemporary, error);
    if (!error) fs::create_directories(dir / kTemporary, error);
    if (error) return refused(program, f, "cannot be made: " + error.message());
  }
  return Status::fine();
}

void abandon_files(const Program& program, const void* params) {
  for (const StageFiles& f : files_of(program, params))
    if (program.stages[f.stage].kind == StageKind::Write) {
      std::error_code ignored;  // nothing to be done about what cannot be removed
      fs::remove_all(fs::path(f.path) / kTemporary, ignored);
    }
}

Status commit_files(const Program& program, const void* params) {
  for (const StageFiles& f : files_of(program, params))
    if (program.stages[f.stage].kind == StageKind::Write) {
      Status done = commit(program, params, f);
      if (!done.ok()) return done;
    }
  return Status::fine();
}

}  // namespace canary::rt
