// Lines on stderr written whole. The embedded default and its workers share
// one stderr, and a worker's threads write to it too: std::cerr, unbuffered,
// writes each `<<` on its own, so lines of several writers interleaved
// mid-line ("componentsworker 1: error: ..."). Installed on std::cerr, this
// keeps what each thread writes until its line ends and hands the line to
// the kernel in one write(2), which a pipe or terminal never splits (up to
// PIPE_BUF bytes). An explicit flush (std::flush) writes an unfinished line,
// as the progress line redrawn in place needs.
#pragma once

#include <streambuf>

namespace canary::rt {

class WholeLines : public std::streambuf {
 public:
  explicit WholeLines(int fd) : fd_(fd) {}

 protected:
  int overflow(int c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  int fd_;
};

// Makes std::cerr write whole lines to stderr, for the rest of the process.
void write_whole_lines_to_stderr();

}  // namespace canary::rt
