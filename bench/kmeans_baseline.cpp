// The COST baseline for k-means: one thread, a plain loop over the very
// data examples/kmeans.cpp generates with PARTITIONS partitions
// (bench/data.h), the same assignment and update arithmetic, no framework.
//   kmeans_baseline POINTS CLUSTERS ITERATIONS PARTITIONS  -> prints seconds per iteration
#include <canary/program.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "data.h"

int main(int argc, char** argv) {
  long points = argc > 1 ? std::atol(argv[1]) : 1000000;
  int clusters = argc > 2 ? std::atoi(argv[2]) : 5;
  int iterations = argc > 3 ? std::atoi(argv[3]) : 10;
  int partitions = argc > 4 ? std::atoi(argv[4]) : 2;
  constexpr int kDim = bench::kKmeansDim;
  using bench::Point;
  std::vector<Point> x;
  for (int p = 0; p < partitions; ++p) {
    long first = bench::first_of(points, p, partitions);
    std::vector<Point> part =
        bench::kmeans_partition(canary::rt::task_seed("generate", p, {}), first,
                                bench::first_of(points, p + 1, partitions) - first, clusters);
    x.insert(x.end(), part.begin(), part.end());
  }
  std::vector<Point> centroids(clusters);
  for (int c = 0; c < clusters; ++c)
    for (int k = 0; k < kDim; ++k) centroids[c][k] = c * (k + 1);
  auto start = std::chrono::steady_clock::now();
  for (int it = 0; it < iterations; ++it) {
    std::vector<Point> sum(clusters, Point{});
    std::vector<long> count(clusters, 0);
    for (const Point& p : x) {
      int best = 0;
      double best_d = INFINITY;
      for (int c = 0; c < clusters; ++c) {
        double d = 0;
        for (int k = 0; k < kDim; ++k) d += (p[k] - centroids[c][k]) * (p[k] - centroids[c][k]);
        if (d < best_d) best_d = d, best = c;
      }
      for (int k = 0; k < kDim; ++k) sum[best][k] += p[k];
      count[best] += 1;
    }
    for (int c = 0; c < clusters; ++c)
      if (count[c] > 0)
        for (int k = 0; k < kDim; ++k) centroids[c][k] = sum[c][k] / count[c];
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.6f\n", s / iterations);
  return centroids[0][0] == 12345.0;  // keeps the loop from being optimised away
}
