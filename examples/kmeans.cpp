// k-means clustering (Lloyd's algorithm) until the centroids stop moving.
// Each partition assigns its points to the nearest centroid and sums them per
// cluster; the sums are reduced, new centroids computed, and the loop runs
// while the largest centroid move exceeds `tolerance` (at most max_iterations).
#include <canary/dsl.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

constexpr int kDim = 4;
using Point = std::array<double, kDim>;

struct Params {
  int partitions = 8;
  int clusters = 5;
  long points = 50000;
  int max_iterations = 50;
  double tolerance = 1e-6;
};

// Per cluster: the coordinate sums and the member count.
struct ClusterSums {
  std::vector<Point> sum;
  std::vector<long> count;
};
// The centroids and how far they moved in the last update.
struct Model {
  std::vector<Point> centroids;
  double moved = 0;
  int updates = 0;
};

CANARY_JOB(kmeans, Params params) {
  auto points = canary::dataset<std::vector<Point>>("points", params.partitions);
  auto local_model = canary::dataset<Model>("local_model", params.partitions);
  auto sums = canary::dataset<ClusterSums>("sums", params.partitions);
  auto total = canary::dataset<ClusterSums>("total", 1);
  auto model = canary::dataset<Model>("model", 1);

  canary::transform("generate", canary::writes(points), [params](canary::Task& t, std::vector<Point>& p) {
    long begin = params.points * t.index() / t.partitions();
    long end = params.points * (t.index() + 1) / t.partitions();
    std::mt19937_64 rng(t.seed());
    std::normal_distribution<double> noise(0.0, 0.5);
    p.resize(end - begin);
    for (long i = 0; i < end - begin; ++i) {
      long center = (begin + i) % params.clusters;
      for (int k = 0; k < kDim; ++k) p[i][k] = 3.0 * center * (k + 1) + noise(rng);
    }
  });
  // The first `clusters` points of partition 0 are the initial centroids.
  canary::transform("init", canary::writes(model), [params](canary::Task&, Model& m) {
    m.centroids.assign(params.clusters, Point{});
    for (int c = 0; c < params.clusters; ++c)
      for (int k = 0; k < kDim; ++k) m.centroids[c][k] = c * (k + 1);
    m.moved = 1e300;
  });
  canary::loop_while(
      "moving", canary::reads(model),
      [params](const Model& m) { return m.moved > params.tolerance && m.updates < params.max_iterations; },
      [&] {
        canary::broadcast("share", model, local_model);
        canary::transform("assign", canary::reads(points, local_model), canary::writes(sums),
                          [](canary::Task&, const std::vector<Point>& p, const Model& m, ClusterSums& s) {
                            std::size_t clusters = m.centroids.size();
                            s.sum.assign(clusters, Point{});
                            s.count.assign(clusters, 0);
                            for (const Point& x : p) {
                              std::size_t best = 0;
                              double best_d = INFINITY;
                              for (std::size_t c = 0; c < clusters; ++c) {
                                double d = 0;
                                for (int k = 0; k < kDim; ++k)
                                  d += (x[k] - m.centroids[c][k]) * (x[k] - m.centroids[c][k]);
                                if (d < best_d) best_d = d, best = c;
                              }
                              for (int k = 0; k < kDim; ++k) s.sum[best][k] += x[k];
                              s.count[best] += 1;
                            }
                          });
        canary::reduce("combine", sums, total, [](ClusterSums& acc, const ClusterSums& s) {
          if (acc.sum.empty())
            acc = ClusterSums{std::vector<Point>(s.sum.size()), std::vector<long>(s.count.size())};
          for (std::size_t c = 0; c < s.sum.size(); ++c) {
            for (int k = 0; k < kDim; ++k) acc.sum[c][k] += s.sum[c][k];
            acc.count[c] += s.count[c];
          }
        });
        canary::transform("update", canary::reads(total), canary::writes(model),
                          [](canary::Task&, const ClusterSums& s, Model& m) {
                            m.moved = 0;
                            for (std::size_t c = 0; c < m.centroids.size(); ++c) {
                              if (s.count[c] == 0) continue;
                              for (int k = 0; k < kDim; ++k) {
                                double next = s.sum[c][k] / s.count[c];
                                m.moved = std::max(m.moved, std::fabs(next - m.centroids[c][k]));
                                m.centroids[c][k] = next;
                              }
                            }
                            m.updates += 1;
                          });
      });
  canary::transform("report", canary::reads(model), [](canary::Task& t, const Model& m) {
    std::vector<double> flat;
    for (const Point& c : m.centroids) flat.insert(flat.end(), c.begin(), c.end());
    t.output("centroids", flat);
    t.output("iterations", m.updates);
  });
}
