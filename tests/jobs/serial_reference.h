// Independent serial computations of the examples, over the same data
// (fixed by t.seed()'s definition), and the comparisons the tests make.
#pragma once

#include <canary/program.h>
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "run_job.h"

namespace canary::testing {

using canary::rt::task_seed;

inline JobRun run_ok(const std::string& binary, const std::vector<std::string>& args) {
  JobRun r = run_job(binary, args);
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.results.contains("outputs"));
  // Whatever moved or rolled back, every message that arrived was used (or
  // passed on): nothing is lost, and nothing stays behind in memory.
  CHECK(r.results["stats"]["unused_messages"] == 0);
  return r;
}

inline void check_close(double got, double want) {
  CHECK(std::fabs(got - want) <= 1e-12 * std::max(1.0, std::fabs(want)));
}

template <class Seq>
void check_close(const nlohmann::json& got, const Seq& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) check_close(got[i].get<double>(), want[i]);
}

// --- logistic regression, serially -------------------------------------------

constexpr int kLrDim = 20;
using LrVec = std::array<double, kLrDim>;

inline LrVec serial_logistic_regression(int partitions, int iterations, long samples, double rate) {
  std::vector<std::vector<std::pair<LrVec, double>>> data(partitions);
  for (int p = 0; p < partitions; ++p) {
    long begin = samples * p / partitions, end = samples * (p + 1) / partitions;
    std::mt19937_64 rng(task_seed("generate", p, {}));
    std::normal_distribution<double> normal(0.0, 1.0);
    for (long i = begin; i < end; ++i) {
      LrVec x;
      double dot = 0;
      for (int k = 0; k < kLrDim; ++k) {
        x[k] = normal(rng);
        dot += x[k] * (k % 2 == 0 ? 1.0 : -0.5);
      }
      data[p].push_back({x, dot > 0 ? 1.0 : 0.0});
    }
  }
  LrVec w{};
  for (int it = 0; it < iterations; ++it) {
    LrVec total{};
    for (int p = 0; p < partitions; ++p) {
      LrVec g{};
      for (const auto& [x, label] : data[p]) {
        double dot = 0;
        for (int k = 0; k < kLrDim; ++k) dot += w[k] * x[k];
        double err = 1.0 / (1.0 + std::exp(-dot)) - label;
        for (int k = 0; k < kLrDim; ++k) g[k] += err * x[k];
      }
      for (int k = 0; k < kLrDim; ++k) total[k] += g[k];
    }
    for (int k = 0; k < kLrDim; ++k) w[k] -= rate * total[k] / samples;
  }
  return w;
}

// --- k-means, serially ---------------------------------------------------------

struct KmeansResult {
  std::vector<double> centroids;
  int iterations = 0;
};

inline KmeansResult serial_kmeans(int partitions, int clusters, long points, int max_iterations,
                                  double tolerance) {
  using Point = std::array<double, 4>;
  std::vector<std::vector<Point>> data(partitions);
  for (int p = 0; p < partitions; ++p) {
    long begin = points * p / partitions, end = points * (p + 1) / partitions;
    std::mt19937_64 rng(task_seed("generate", p, {}));
    std::normal_distribution<double> noise(0.0, 0.5);
    for (long i = begin; i < end; ++i) {
      Point x;
      for (int k = 0; k < 4; ++k) x[k] = 3.0 * ((i % clusters)) * (k + 1) + noise(rng);
      data[p].push_back(x);
    }
  }
  std::vector<Point> centroids(clusters);
  for (int c = 0; c < clusters; ++c)
    for (int k = 0; k < 4; ++k) centroids[c][k] = c * (k + 1);
  double moved = 1e300;
  int updates = 0;
  while (moved > tolerance && updates < max_iterations) {
    std::vector<Point> sum(clusters, Point{});
    std::vector<long> count(clusters, 0);
    for (int p = 0; p < partitions; ++p) {  // per partition, then combined in partition order
      std::vector<Point> psum(clusters, Point{});
      std::vector<long> pcount(clusters, 0);
      for (const Point& x : data[p]) {
        int best = 0;
        double best_d = INFINITY;
        for (int c = 0; c < clusters; ++c) {
          double d = 0;
          for (int k = 0; k < 4; ++k) d += (x[k] - centroids[c][k]) * (x[k] - centroids[c][k]);
          if (d < best_d) best_d = d, best = c;
        }
        for (int k = 0; k < 4; ++k) psum[best][k] += x[k];
        pcount[best] += 1;
      }
      for (int c = 0; c < clusters; ++c) {
        for (int k = 0; k < 4; ++k) sum[c][k] += psum[c][k];
        count[c] += pcount[c];
      }
    }
    moved = 0;
    for (int c = 0; c < clusters; ++c) {
      if (count[c] == 0) continue;
      for (int k = 0; k < 4; ++k) {
        double next = sum[c][k] / count[c];
        moved = std::max(moved, std::fabs(next - centroids[c][k]));
        centroids[c][k] = next;
      }
    }
    ++updates;
  }
  KmeansResult r;
  for (const Point& c : centroids) r.centroids.insert(r.centroids.end(), c.begin(), c.end());
  r.iterations = updates;
  return r;
}

// --- PageRank, serially --------------------------------------------------------

inline std::vector<std::vector<double>> serial_pagerank(int partitions, int iterations, long vertices,
                                                        int degree, double damping) {
  auto first = [&](int p) { return vertices * p / partitions; };
  auto owner = [&](long v) {
    int q = 0;
    while (first(q + 1) <= v) ++q;
    return q;
  };
  std::vector<std::vector<double>> rank(partitions);
  std::vector<std::vector<std::vector<long>>> out(partitions);
  for (int p = 0; p < partitions; ++p) {
    std::mt19937_64 rng(task_seed("generate", p, {}));
    std::uniform_int_distribution<long> target(0, vertices - 1);
    long n = first(p + 1) - first(p);
    rank[p].assign(n, 1.0 / vertices);
    out[p].assign(n, {});
    for (auto& edges : out[p])
      for (int e = 0; e < degree; ++e) edges.push_back(target(rng));
  }
  for (int it = 0; it < iterations; ++it) {
    std::vector<std::vector<double>> sum(partitions);
    for (int q = 0; q < partitions; ++q) sum[q].assign(rank[q].size(), 0.0);
    for (int p = 0; p < partitions; ++p)  // senders in partition order, as a gather sees them
      for (int q = 0; q < partitions; ++q)
        for (std::size_t i = 0; i < rank[p].size(); ++i)
          for (long t : out[p][i])
            if (owner(t) == q) sum[q][t - first(q)] += rank[p][i] / out[p][i].size();
    for (int q = 0; q < partitions; ++q)
      for (std::size_t i = 0; i < rank[q].size(); ++i)
        rank[q][i] = (1 - damping) / vertices + damping * sum[q][i];
  }
  return rank;
}

// --- tests/jobs/automatic.cpp, serially ----------------------------------------

// Each bucket's sum, for the `partitions` the runtime chose.
inline std::vector<long> serial_bucket_sums(long values, int partitions) {
  std::vector<long> sums(partitions);
  for (long i = 0; i < values; ++i) {
    long x = i * 7919 % 1009;
    sums[x % partitions] += x;
  }
  return sums;
}

}  // namespace canary::testing
