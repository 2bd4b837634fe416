// Lines written to std::cerr piece by piece from several threads reach the
// file descriptor whole.
#include "job/whole_lines.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using canary::rt::WholeLines;

TEST_CASE("lines written piece by piece by several threads arrive whole, and a flush writes a partial one") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  WholeLines lines(fds[1]);
  std::ostream out(&lines);
  const int threads = 4, each = 200;
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t)
    writers.emplace_back([&out, t] {
      for (int i = 0; i < each; ++i) out << "worker " << t << ": line " << i << " of " << each << "\n";
    });
  for (std::thread& w : writers) w.join();
  out << "partial" << std::flush;
  close(fds[1]);

  std::string all;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;)
    all.append(buffer, static_cast<std::size_t>(n));
  close(fds[0]);
  std::istringstream in(all);
  std::vector<int> next(threads, 0);
  std::string line;
  int whole = 0;
  while (std::getline(in, line)) {
    if (line == "partial") break;
    int t = -1, i = -1, of = -1;
    REQUIRE_MESSAGE(std::sscanf(line.c_str(), "worker %d: line %d of %d", &t, &i, &of) == 3, line);
    REQUIRE(t >= 0);
    REQUIRE(t < threads);
    CHECK(i == next[t]++);  // each thread's lines in its order
    CHECK(line ==
          "worker " + std::to_string(t) + ": line " + std::to_string(i) + " of " + std::to_string(each));
    ++whole;
  }
  CHECK(whole == threads * each);
  CHECK(line == "partial");
}
