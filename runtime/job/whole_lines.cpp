#include "job/whole_lines.h"

#include <unistd.h>

#include <cerrno>
#include <iostream>

namespace canary::rt {

namespace {

// Writes all of `size` bytes at `data` (one write(2) unless the kernel takes less).
void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr is gone: nobody to tell
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// What the calling thread has written since its last whole line. Plain
// bytes, never destroyed: std::cerr may still be flushed after the thread's
// other objects are gone. A longer line goes out in parts of this size.
struct Unfinished {
  char bytes[4096];
  std::size_t size;
};
thread_local Unfinished unfinished;

void put(int fd, char c) {
  unfinished.bytes[unfinished.size++] = c;
  if (c == '\n' || unfinished.size == sizeof unfinished.bytes) {
    write_all(fd, unfinished.bytes, unfinished.size);
    unfinished.size = 0;
  }
}

}  // namespace

std::streamsize WholeLines::xsputn(const char* s, std::streamsize n) {
  for (std::streamsize i = 0; i < n; ++i) put(fd_, s[i]);
  return n;
}

int WholeLines::overflow(int c) {
  if (c == traits_type::eof()) return traits_type::not_eof(c);
  put(fd_, traits_type::to_char_type(c));
  return c;
}

int WholeLines::sync() {
  write_all(fd_, unfinished.bytes, unfinished.size);
  unfinished.size = 0;
  return 0;
}

void write_whole_lines_to_stderr() {
  // Never destroyed: the standard streams are flushed after static objects go.
  static auto* lines = new WholeLines(STDERR_FILENO);
  std::cerr.rdbuf(lines);
  std::cerr.unsetf(std::ios::unitbuf);  // a flush after every `<<` would write parts of lines
}

}  // namespace canary::rt
