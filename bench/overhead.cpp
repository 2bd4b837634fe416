// The control-plane cost of one iteration: an empty reduce and broadcast,
// which cross every worker and so bound how fast a distributed loop can go.
#include <canary/dsl.h>

struct Params {
  int partitions = 2;
  int iterations = 2000;
};

CANARY_JOB(overhead, Params params) {
  auto x = canary::dataset<double>("x", params.partitions);
  auto total = canary::dataset<double>("total", 1);
  canary::transform("init", canary::writes(x), [](canary::Task& t, double& v) { v = t.index(); });
  canary::loop(params.iterations, [&] {
    canary::reduce("sum", x, total, [](double& acc, const double& v) { acc += v; });
    canary::broadcast("share", total, x);
  });
  canary::transform("report", canary::reads(total),
                    [](canary::Task& t, const double& v) { t.output("total", v); });
}
