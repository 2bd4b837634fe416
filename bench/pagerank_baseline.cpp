// The COST baseline for PageRank: one thread, a plain loop over the very
// graph examples/pagerank.cpp generates with PARTITIONS partitions
// (bench/data.h), held as flat arrays, the same update.
//   pagerank_baseline VERTICES DEGREE ITERATIONS PARTITIONS  -> prints seconds per iteration
#include <canary/program.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "data.h"

int main(int argc, char** argv) {
  long vertices = argc > 1 ? std::atol(argv[1]) : 1000000;
  int degree = argc > 2 ? std::atoi(argv[2]) : 8;
  int iterations = argc > 3 ? std::atoi(argv[3]) : 10;
  int partitions = argc > 4 ? std::atoi(argv[4]) : 2;
  const double damping = 0.85;
  std::vector<long> target;  // vertex v's out-edges: [v * degree, (v + 1) * degree)
  for (int p = 0; p < partitions; ++p) {
    std::vector<long> part = bench::pagerank_partition(
        canary::rt::task_seed("generate", p, {}),
        bench::first_of(vertices, p + 1, partitions) - bench::first_of(vertices, p, partitions), vertices,
        degree);
    target.insert(target.end(), part.begin(), part.end());
  }
  std::vector<double> rank(vertices, 1.0 / vertices), sum(vertices);
  auto start = std::chrono::steady_clock::now();
  for (int it = 0; it < iterations; ++it) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (long v = 0; v < vertices; ++v) {
      double share = rank[v] / degree;
      for (int e = 0; e < degree; ++e) sum[target[v * degree + e]] += share;
    }
    for (long v = 0; v < vertices; ++v) rank[v] = (1 - damping) / vertices + damping * sum[v];
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.6f\n", s / iterations);
  return rank[0] == 12345.0;  // keeps the loop from being optimised away
}
