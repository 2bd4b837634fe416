// The COST baseline for logistic regression: one thread, a plain loop over
// the same data the Canary job generates, no framework.
//   lr_baseline SAMPLES ITERATIONS  -> prints seconds per iteration
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  long samples = argc > 1 ? std::atol(argv[1]) : 1000000;
  int iterations = argc > 2 ? std::atoi(argv[2]) : 10;
  constexpr int kDim = 20;
  std::vector<std::array<double, kDim>> x(samples);
  std::vector<double> label(samples);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(-1.0, 1.0);  // as bench/lr_bench.cpp
  for (long i = 0; i < samples; ++i) {
    double dot = 0;
    for (int k = 0; k < kDim; ++k) dot += (x[i][k] = u(rng)) * (k % 2 == 0 ? 1.0 : -0.5);
    label[i] = dot > 0;
  }
  std::array<double, kDim> w{};
  auto start = std::chrono::steady_clock::now();
  for (int it = 0; it < iterations; ++it) {
    std::array<double, kDim> g{};
    for (long i = 0; i < samples; ++i) {
      double dot = 0;
      for (int k = 0; k < kDim; ++k) dot += w[k] * x[i][k];
      double err = 1.0 / (1.0 + std::exp(-dot)) - label[i];
      for (int k = 0; k < kDim; ++k) g[k] += err * x[i][k];
    }
    for (int k = 0; k < kDim; ++k) w[k] -= 0.1 * g[k] / samples;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.6f\n", s / iterations);
  return w[0] == 12345.0;  // keeps the loop from being optimised away
}
