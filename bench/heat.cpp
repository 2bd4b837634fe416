// A job of small state and fast iterations, for what a snapshot costs when
// the protocol, not the bytes, is the price: 4 partitions of 768 cells (the
// heat grid of issue 22: 64x48), each iteration one smoothing sweep.
#include <canary/dsl.h>

#include <vector>

struct Params {
  int partitions = 4;
  int iterations = 2000;
  long cells = 768;  // per partition
};

CANARY_JOB(heat, Params params) {
  auto grid = canary::dataset<std::vector<double>>("grid", params.partitions);
  canary::transform("init", canary::writes(grid),
                    [params](canary::Task& t, std::vector<double>& g) { g.assign(params.cells, t.index()); });
  canary::loop(params.iterations, [&] {
    canary::transform("sweep", canary::writes(grid), [](canary::Task&, std::vector<double>& g) {
      for (std::size_t i = 1; i + 1 < g.size(); ++i) g[i] = 0.5 * g[i] + 0.25 * (g[i - 1] + g[i + 1]);
    });
  });
  canary::transform("report", canary::reads(grid), [](canary::Task& t, const std::vector<double>& g) {
    double sum = 0;
    for (double x : g) sum += x;
    t.output("sum", sum);
  });
}
