// Logistic regression by batch gradient descent (the paper's figure 2).
// Every partition of `data` holds synthetic samples labelled by a hidden
// weight vector; each iteration broadcasts the weights, computes a gradient
// per partition, sums the gradients and takes one step.
#include <canary/dsl.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

constexpr int kDim = 20;
using Vec = std::array<double, kDim>;
struct Sample {
  Vec x;
  double label;
};

struct Params {
  int partitions = 8;
  int iterations = 10;
  long samples = 100000;
  double rate = 0.1;
};

CANARY_JOB(logistic_regression, Params params) {
  auto data = canary::dataset<std::vector<Sample>>("data", params.partitions);
  auto local_w = canary::dataset<Vec>("local_w", params.partitions);
  auto grad = canary::dataset<Vec>("grad", params.partitions);
  auto total = canary::dataset<Vec>("total", 1);
  auto weights = canary::dataset<Vec>("weights", 1);

  canary::transform("generate", canary::writes(data), [params](canary::Task& t, std::vector<Sample>& d) {
    long begin = params.samples * t.index() / t.partitions();
    long end = params.samples * (t.index() + 1) / t.partitions();
    std::mt19937_64 rng(t.seed());
    std::normal_distribution<double> normal(0.0, 1.0);
    d.resize(end - begin);
    for (Sample& s : d) {
      double dot = 0;
      for (int k = 0; k < kDim; ++k) {
        s.x[k] = normal(rng);
        dot += s.x[k] * (k % 2 == 0 ? 1.0 : -0.5);
      }
      s.label = dot > 0 ? 1.0 : 0.0;
    }
  });
  canary::transform("init", canary::writes(weights), [](canary::Task&, Vec& w) { w.fill(0); });
  canary::loop(params.iterations, [&] {
    canary::broadcast("share", weights, local_w);
    canary::transform("gradient", canary::reads(data, local_w), canary::writes(grad),
                      [](canary::Task&, const std::vector<Sample>& d, const Vec& w, Vec& g) {
                        Vec acc{};  // a local, so the compiler keeps it in registers
                        for (const Sample& s : d) {
                          double dot = 0;
                          for (int k = 0; k < kDim; ++k) dot += w[k] * s.x[k];
                          double err = 1.0 / (1.0 + std::exp(-dot)) - s.label;
                          for (int k = 0; k < kDim; ++k) acc[k] += err * s.x[k];
                        }
                        g = acc;
                      });
    canary::reduce("sum", grad, total, [](Vec& acc, const Vec& g) {
      for (int k = 0; k < kDim; ++k) acc[k] += g[k];
    });
    canary::transform("step", canary::reads(total), canary::writes(weights),
                      [params](canary::Task&, const Vec& g, Vec& w) {
                        for (int k = 0; k < kDim; ++k) w[k] -= params.rate * g[k] / params.samples;
                      });
  });
  canary::transform("report", canary::reads(weights),
                    [](canary::Task& t, const Vec& w) { t.output("weights", w); });
}
