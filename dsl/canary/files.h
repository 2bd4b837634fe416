// <canary/files.h>: what read and write stages hand their task functions
// (DESIGN.md section 4.1). A Split is task i's part of the input, cut at line
// (or record) boundaries, in a buffer it owns; a Sink is partition i's part
// file. The runtime fills and drains them; drivers only use the members below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace canary {

// The argument of canary::files(path, canary::records(n)): fixed n-byte records.
struct Records {
  std::size_t bytes;
};
inline Records records(std::size_t bytes) { return {bytes}; }

// Where a read stage's input is, or a write stage's output goes: a file, a
// directory or a glob (see DESIGN.md section 4.1). canaryc reads the argument.
struct Files {};
inline Files files(const std::string& /*path*/) { return {}; }
inline Files files(const std::string& /*path*/, Records /*records*/) { return {}; }

// Thrown by Split::fail: the task fails with the message, which names the
// file and the line (or byte offset).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Task i's part of a read stage's input.
class Split {
 public:
  // A run of whole lines (or records) of one file, at `offset` in `buffer`.
  struct Piece {
    std::string file;           // as the runtime found it
    std::uint64_t file_offset;  // where the piece starts in the (decompressed) file
    std::size_t offset, size;   // in the buffer
  };
  // Line number of the line starting at `file_offset` of `piece`, counted
  // from the start of its file: the runtime's, for messages only.
  using LineOf = std::function<std::uint64_t(const Piece& piece, std::uint64_t file_offset)>;

  Split() = default;
  Split(std::string buffer, std::vector<Piece> pieces, std::size_t record_bytes, LineOf line_of)
      : buffer_(std::move(buffer)),
        pieces_(std::move(pieces)),
        record_bytes_(record_bytes),
        line_of_(std::move(line_of)) {}

  class Cursor;
  // The split's lines without their line ends ("\n" or "\r\n"), in file order.
  Cursor lines();
  // The split's records, each a view of `n` bytes.
  Cursor records();
  // Fails the task: "FILE:LINE: message" for text, "FILE: byte OFFSET:
  // message" for records, naming the line or record last handed out.
  [[noreturn]] void fail(const std::string& message) const {
    if (pieces_.empty() || current_piece_ >= pieces_.size()) throw InputError(message);
    const Piece& p = pieces_[current_piece_];
    std::uint64_t at = p.file_offset + (current_ - p.offset);
    if (record_bytes_ > 0) throw InputError(p.file + ": byte " + std::to_string(at) + ": " + message);
    std::uint64_t line = line_of_ ? line_of_(p, at) : 0;
    throw InputError(p.file + ":" + std::to_string(line) + ": " + message);
  }
  std::size_t bytes() const { return buffer_.size(); }

 private:
  friend class Cursor;
  std::string buffer_;
  std::vector<Piece> pieces_;
  std::size_t record_bytes_ = 0;  // 0: text
  LineOf line_of_;
  std::size_t current_piece_ = 0, current_ = 0;  // what was handed out last
};

// Walks a split's lines or records; `for (std::string_view x : cursor)`.
class Split::Cursor {
 public:
  class iterator {
   public:
    iterator(Split* split, bool end) : split_(split), end_(end) {
      if (!end_) advance_to_item();
    }
    std::string_view operator*() const { return item_; }
    iterator& operator++() {
      split_->current_ = next_;
      advance_to_item();
      return *this;
    }
    bool operator!=(const iterator& other) const { return end_ != other.end_; }
    bool operator==(const iterator& other) const { return end_ == other.end_; }

   private:
    // Finds the item at the split's position, moving to the next piece at a
    // piece's end; sets end_ after the last.
    void advance_to_item() {
      Split& s = *split_;
      while (s.current_piece_ < s.pieces_.size()) {
        const Piece& p = s.pieces_[s.current_piece_];
        std::size_t limit = p.offset + p.size;
        if (s.current_ < p.offset) s.current_ = p.offset;
        if (s.current_ < limit) {
          const char* base = s.buffer_.data();
          if (s.record_bytes_ > 0) {
            item_ = std::string_view(base + s.current_, s.record_bytes_);
            next_ = s.current_ + s.record_bytes_;
            return;
          }
          const void* nl = std::memchr(base + s.current_, '\n', limit - s.current_);
          std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - base) : limit;
          next_ = nl ? end + 1 : limit;
          if (nl && end > s.current_ && base[end - 1] == '\r') --end;
          item_ = std::string_view(base + s.current_, end - s.current_);
          return;
        }
        ++s.current_piece_;
      }
      end_ = true;
    }

    Split* split_;
    bool end_;
    std::string_view item_;
    std::size_t next_ = 0;
  };

  explicit Cursor(Split* split) : split_(split) {}
  iterator begin() { return iterator(split_, false); }
  iterator end() { return iterator(split_, true); }

 private:
  Split* split_;
};

inline Split::Cursor Split::lines() {
  current_piece_ = 0;
  current_ = 0;
  if (record_bytes_ > 0) throw std::logic_error("canary: lines() of a split of fixed-size records");
  return Cursor(this);
}
inline Split::Cursor Split::records() {
  current_piece_ = 0;
  current_ = 0;
  if (record_bytes_ == 0) throw std::logic_error("canary: records() of a split of text");
  return Cursor(this);
}

namespace detail {
// Where a Sink's bytes go: the runtime's part file.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void append(std::string_view bytes) = 0;
};
}  // namespace detail

// Partition i's part file of a write stage.
class Sink {
 public:
  explicit Sink(detail::ByteSink* out) : out_(out) {}
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink() = default;

  // A text line; '\n' is appended.
  void line(std::string_view text) {
    buffer_.append(text);
    buffer_.push_back('\n');
    if (buffer_.size() >= kFlushBytes) flush();
  }
  // Raw bytes.
  void write(const void* data, std::size_t size) {
    buffer_.append(static_cast<const char*>(data), size);
    if (buffer_.size() >= kFlushBytes) flush();
  }
  // Hands what is buffered to the file (the runtime calls it at the end).
  void flush() {
    if (!buffer_.empty()) out_->append(buffer_);
    buffer_.clear();
  }

 private:
  static constexpr std::size_t kFlushBytes = std::size_t{1} << 20;
  detail::ByteSink* out_;
  std::string buffer_;
};

}  // namespace canary
