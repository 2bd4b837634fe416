// The io benchmark's single-threaded baseline: the same CSV read whole and
// parsed line by line with std::from_chars into a vector of points.
//   io_baseline FILE   -> prints "SECONDS LINES SUM"
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: io_baseline FILE\n");
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  std::FILE* in = std::fopen(argv[1], "rb");
  if (!in) return 1;
  std::string text;
  char block[1 << 16];
  for (std::size_t n; (n = std::fread(block, 1, sizeof block, in)) > 0;) text.append(block, n);
  std::fclose(in);
  std::vector<std::array<double, 4>> points;
  points.reserve(text.size() / 40);
  double sum = 0;
  const char* at = text.data();
  const char* end = at + text.size();
  while (at < end) {
    std::array<double, 4> x;
    for (double& v : x) {
      auto [next, error] = std::from_chars(at, end, v);
      if (error != std::errc()) return 1;
      at = next + 1;  // past the comma, or the newline after the last number
    }
    points.push_back(x);
    sum += x[0] + x[1] + x[2] + x[3];
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.4f %zu %.6f\n", seconds, points.size(), sum);
}
