// Compiled jobs run as real processes; every answer is checked against a
// plain serial loop over the same data, written here independently of the
// runtime (sharing only the definition of t.seed(), which fixes the data).
#include <canary/program.h>
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <random>
#include <set>

#include "run_job.h"

using canary::rt::task_seed;
using canary::testing::JobRun;
using canary::testing::run_job;

namespace {

JobRun run_ok(const std::string& binary, const std::vector<std::string>& args) {
  JobRun r = run_job(binary, args);
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.results.contains("outputs"));
  return r;
}

void check_close(double got, double want) {
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

LrVec serial_logistic_regression(int partitions, int iterations, long samples, double rate) {
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

KmeansResult serial_kmeans(int partitions, int clusters, long points, int max_iterations, double tolerance) {
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

std::vector<std::vector<double>> serial_pagerank(int partitions, int iterations, long vertices, int degree,
                                                 double damping) {
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

}  // namespace

TEST_CASE("logistic regression equals a serial loop, for several partition and thread counts") {
  for (int partitions : {1, 3, 8})
    for (int threads : {1, 2}) {
      CAPTURE(partitions);
      CAPTURE(threads);
      JobRun r = run_ok(CANARY_JOB_logistic_regression,
                        {"--threads", std::to_string(threads), "--partitions=" + std::to_string(partitions),
                         "--iterations=4", "--samples=3000", "--rate=0.5"});
      check_close(r.results["outputs"]["weights"], serial_logistic_regression(partitions, 4, 3000, 0.5));
      CHECK(r.results["stats"]["tasks"].get<long>() > 0);
    }
}

TEST_CASE("the same inputs give bit-identical outputs whatever the thread count") {
  std::vector<std::string> args = {"--partitions=6", "--iterations=3", "--samples=2000"};
  auto with = [&](const char* threads) {
    std::vector<std::string> a = args;
    a.push_back(std::string("--threads=") + threads);
    return run_ok(CANARY_JOB_logistic_regression, a).results["outputs"];
  };
  nlohmann::json one = with("1");
  CHECK(one == with("2"));
  CHECK(one == with("3"));
}

TEST_CASE("k-means (loop_while) equals a serial loop") {
  for (int partitions : {1, 4})
    for (int threads : {1, 2}) {
      CAPTURE(partitions);
      CAPTURE(threads);
      JobRun r = run_ok(CANARY_JOB_kmeans,
                        {"--threads", std::to_string(threads), "--partitions=" + std::to_string(partitions),
                         "--points=4000", "--clusters=4", "--max_iterations=30"});
      KmeansResult want = serial_kmeans(partitions, 4, 4000, 30, 1e-6);
      check_close(r.results["outputs"]["centroids"], want.centroids);
      CHECK(r.results["outputs"]["iterations"] == want.iterations);
      CHECK(want.iterations > 1);
    }
}

TEST_CASE("PageRank (scatter/gather across partitions) equals a serial loop") {
  for (int partitions : {1, 5})
    for (int threads : {1, 2}) {
      CAPTURE(partitions);
      CAPTURE(threads);
      JobRun r = run_ok(CANARY_JOB_pagerank,
                        {"--threads", std::to_string(threads), "--partitions=" + std::to_string(partitions),
                         "--vertices=3000", "--iterations=5"});
      std::vector<std::vector<double>> want = serial_pagerank(partitions, 5, 3000, 8, 0.85);
      const nlohmann::json& got = r.results["outputs"]["ranks"];
      REQUIRE(got.size() == want.size());
      for (std::size_t p = 0; p < want.size(); ++p) check_close(got[p], want[p]);
    }
}

TEST_CASE("loop_while, loop and if_ nested take the serial path") {
  for (const char* threads : {"1", "2"}) {
    JobRun r = run_ok(CANARY_JOB_control_flow, {"--threads", threads, "--partitions=3", "--inner=2"});
    std::vector<double> cells = {0, 1, 2};
    int steps = 0;
    while (steps < 4) {
      for (int i = 0; i < 2; ++i) {
        double sum = 0;
        for (double c : cells) sum += c;
        for (double& c : cells) c = sum > 10 ? c / 2 : c * 3;
      }
      steps += 1;
    }
    if (steps % 2 == 1)
      for (double& c : cells) c += 1;
    check_close(r.results["outputs"]["cells"], cells);
  }
}

TEST_CASE("t.seed() and t.iteration() follow their definition") {
  JobRun a = run_ok(CANARY_JOB_seeds, {"--threads=2", "--partitions=3", "--rounds=2"});
  JobRun b = run_ok(CANARY_JOB_seeds, {"--threads=1", "--partitions=3", "--rounds=2"});
  CHECK(a.results["outputs"] == b.results["outputs"]);
  const nlohmann::json& seen = a.results["outputs"]["seen"];
  REQUIRE(seen.size() == 3);
  std::set<std::uint64_t> distinct;
  for (int p = 0; p < 3; ++p) {
    std::vector<std::uint64_t> want = {task_seed("first", p, {})};
    for (int round = 0; round < 2; ++round)
      for (int i = 0; i < 2; ++i) {
        want.push_back(task_seed("inner", p, {round, i}));
        want.push_back(i);
      }
    CHECK(seen[p].get<std::vector<std::uint64_t>>() == want);
    for (std::size_t k = 0; k < want.size(); k += 1 + (k > 0)) distinct.insert(want[k]);
  }
  CHECK(distinct.size() == 15);  // every (stage, partition, iterations) has its own seed
}

TEST_CASE("the job binary's command line") {
  SUBCASE("--graph prints the embedded stage graph") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--graph"});
    REQUIRE(r.exit_code == 0);
    nlohmann::json g = nlohmann::json::parse(r.out);
    CHECK(g["format"] == "canary-graph/1");
    CHECK(g["job"] == "kmeans");
  }
  SUBCASE("--help lists the parameters with their defaults") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("--tolerance=double   (default 1e-06)") != std::string::npos);
  }
  SUBCASE("an unknown flag is one clear line and a non-zero exit") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--colour=blue"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "kmeans: error: unknown flag '--colour'; see --help\n");
  }
  SUBCASE("a malformed value too") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--clusters=many"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "kmeans: error: --clusters: 'many' is not an integer\n");
  }
  SUBCASE("a partition count below one is refused") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--partitions=0"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("dataset 'points' would have 0 partitions") != std::string::npos);
  }
  SUBCASE("a task that throws fails the job with one line") {
    JobRun r = run_job(CANARY_JOB_failing_task, {"--threads=2"});
    CHECK(r.exit_code == 1);
    CHECK(r.err == "failing_task: error: stage 'work', partition 2: partition 2 is bad\n");
  }
  SUBCASE("stats say how many tasks ran, per worker") {
    JobRun r = run_ok(CANARY_JOB_logistic_regression, {"--partitions=4", "--iterations=2", "--samples=100"});
    const nlohmann::json& stats = r.results["stats"];
    // generate 4, init 1, per iteration: share 1+4, gradient 4, sum 4+1, step 1; report 1
    CHECK(stats["tasks"] == 4 + 1 + 2 * (5 + 4 + 5 + 1) + 1);
    CHECK(stats["tasks_per_worker"] == nlohmann::json::array({stats["tasks"]}));
    CHECK(stats["elapsed_s"].get<double>() > 0);
  }
}
