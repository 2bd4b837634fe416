// The COST baseline for logistic regression: one thread, a plain loop over
// the very data bench/lr_bench.cpp generates with PARTITIONS partitions
// (bench/data.h), no framework.
//   lr_baseline SAMPLES ITERATIONS PARTITIONS  -> prints seconds per iteration
#include <canary/program.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "data.h"

int main(int argc, char** argv) {
  long samples = argc > 1 ? std::atol(argv[1]) : 1000000;
  int iterations = argc > 2 ? std::atoi(argv[2]) : 10;
  int partitions = argc > 3 ? std::atoi(argv[3]) : 2;
  constexpr int kDim = bench::kLrDim;
  std::vector<bench::Sample> data;
  for (int p = 0; p < partitions; ++p) {
    std::vector<bench::Sample> part = bench::lr_partition(
        canary::rt::task_seed("generate", p, {}),
        bench::first_of(samples, p + 1, partitions) - bench::first_of(samples, p, partitions));
    data.insert(data.end(), part.begin(), part.end());
  }
  std::array<double, kDim> w{};
  auto start = std::chrono::steady_clock::now();
  for (int it = 0; it < iterations; ++it) {
    std::array<double, kDim> g{};
    for (const bench::Sample& s : data) {
      double dot = 0;
      for (int k = 0; k < kDim; ++k) dot += w[k] * s.x[k];
      double err = 1.0 / (1.0 + std::exp(-dot)) - s.label;
      for (int k = 0; k < kDim; ++k) g[k] += err * s.x[k];
    }
    for (int k = 0; k < kDim; ++k) w[k] -= 0.1 * g[k] / samples;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.6f\n", s / iterations);
  return w[0] == 12345.0;  // keeps the loop from being optimised away
}
