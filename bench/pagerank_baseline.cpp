// The COST baseline for PageRank: one thread, a plain loop over a graph of
// the kind examples/pagerank.cpp generates (every vertex with `degree`
// uniformly random out-edges), held as flat arrays, the same update.
//   pagerank_baseline VERTICES DEGREE ITERATIONS  -> prints seconds per iteration
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  long vertices = argc > 1 ? std::atol(argv[1]) : 1000000;
  int degree = argc > 2 ? std::atoi(argv[2]) : 8;
  int iterations = argc > 3 ? std::atoi(argv[3]) : 10;
  const double damping = 0.85;
  std::vector<long> target(vertices * degree);  // vertex v's out-edges: [v * degree, (v + 1) * degree)
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<long> pick(0, vertices - 1);
  for (long& t : target) t = pick(rng);
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
