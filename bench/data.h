// The data of the apps benchmark, one partition at a time, exactly as the
// Canary jobs' "generate" stages make it from their task seed: the
// single-thread loops (bench/*_baseline.cpp) and the Dask jobs (through
// bench/peers/dump_data.cpp) work on the very same numbers.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <vector>

namespace bench {

// The first element of partition `p` of `n` elements in `partitions`.
inline long first_of(long n, int p, int partitions) { return n * p / partitions; }

// Logistic regression (bench/lr_bench.cpp): points uniform in [-1, 1]^20,
// labelled by the side of a fixed plane they fall on.
constexpr int kLrDim = 20;
struct Sample {
  std::array<double, kLrDim> x;
  double label;
};
inline std::vector<Sample> lr_partition(std::uint64_t seed, long n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<Sample> d(n);
  for (Sample& s : d) {
    double dot = 0;
    for (int k = 0; k < kLrDim; ++k) dot += (s.x[k] = u(rng)) * (k % 2 == 0 ? 1.0 : -0.5);
    s.label = dot > 0;
  }
  return d;
}

// k-means (examples/kmeans.cpp): 4-dimensional points around `clusters`
// centres, point i around centre i % clusters.
constexpr int kKmeansDim = 4;
using Point = std::array<double, kKmeansDim>;
inline std::vector<Point> kmeans_partition(std::uint64_t seed, long first, long n, int clusters) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.5);
  std::vector<Point> p(n);
  for (long i = 0; i < n; ++i)
    for (int k = 0; k < kKmeansDim; ++k) p[i][k] = 3.0 * ((first + i) % clusters) * (k + 1) + noise(rng);
  return p;
}

// PageRank (examples/pagerank.cpp): every vertex's `degree` out-edges go
// to uniformly random vertices; vertex first + i's are [i * degree, (i + 1) * degree).
inline std::vector<long> pagerank_partition(std::uint64_t seed, long n, long vertices, int degree) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<long> pick(0, vertices - 1);
  std::vector<long> target(n * degree);
  for (long& t : target) t = pick(rng);
  return target;
}

}  // namespace bench
