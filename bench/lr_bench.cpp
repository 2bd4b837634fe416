// Logistic regression for benchmarking: the gradient step of
// examples/logistic_regression.cpp, with cheap uniform data (bench/data.h)
// so that data generation does not drown the per-iteration time.
// bench/lr_baseline.cpp does the same arithmetic on the same data in a
// single-threaded loop.
#include <canary/dsl.h>

#include <array>
#include <cmath>
#include <vector>

#include "data.h"

constexpr int kDim = bench::kLrDim;
using Vec = std::array<double, kDim>;
using bench::Sample;

// Its partition counts are canary::automatic: bench/run pins them with
// --partitions-for-automatic, except where it measures the runtime's choice.
struct Params {
  int iterations = 10;
  long samples = 1000000;
  int skew = 0;  // 1: the gradient tasks of every fourth partition take twice as long
};

CANARY_JOB(lr_bench, Params params) {
  auto data = canary::dataset<std::vector<Sample>>("data", canary::automatic);
  auto local_w = canary::dataset<Vec>("local_w", canary::automatic);
  auto grad = canary::dataset<Vec>("grad", canary::automatic);
  auto total = canary::dataset<Vec>("total", 1);
  auto weights = canary::dataset<Vec>("weights", 1);
  canary::transform("generate", canary::writes(data), [params](canary::Task& t, std::vector<Sample>& d) {
    d = bench::lr_partition(t.seed(), bench::first_of(params.samples, t.index() + 1, t.partitions()) -
                                          bench::first_of(params.samples, t.index(), t.partitions()));
  });
  canary::transform("init", canary::writes(weights), [](canary::Task&, Vec& w) { w.fill(0); });
  canary::loop(params.iterations, [&] {
    canary::broadcast("share", weights, local_w);
    canary::transform("gradient", canary::reads(data, local_w), canary::writes(grad),
                      [params](canary::Task& t, const std::vector<Sample>& d, const Vec& w, Vec& g) {
                        int passes = params.skew && t.index() % 4 == 0 ? 2 : 1;
                        Vec acc{};  // a local, so the compiler keeps it in registers
                        for (int pass = 0; pass < passes; ++pass)
                          for (const Sample& s : d) {
                            double dot = 0;
                            for (int k = 0; k < kDim; ++k) dot += w[k] * s.x[k];
                            double err = 1.0 / (1.0 + std::exp(-dot)) - s.label;
                            for (int k = 0; k < kDim; ++k) acc[k] += err * s.x[k];
                          }
                        for (int k = 0; k < kDim; ++k) g[k] = acc[k] / passes;
                      });
    canary::reduce("sum", grad, total, [](Vec& acc, const Vec& g) {
      for (int k = 0; k < kDim; ++k) acc[k] += g[k];
    });
    canary::transform("step", canary::reads(total), canary::writes(weights),
                      [params](canary::Task&, const Vec& g, Vec& w) {
                        for (int k = 0; k < kDim; ++k) w[k] -= 0.1 * g[k] / params.samples;
                      });
  });
  canary::transform("report", canary::reads(weights),
                    [](canary::Task& t, const Vec& w) { t.output("weights", w); });
}
