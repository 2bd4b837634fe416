// A reduce and a broadcast whose input and result share a co-location group
// ("mix" touches both): an instance then has two tasks on partition 0 of
// that group, its main task and its single task, and a migration of that
// group must move both.
#include <canary/dsl.h>

struct Params {
  int partitions = 4;
  int iterations = 200;
};

CANARY_JOB(same_group, Params params) {
  auto a = canary::dataset<double>("a", 1);
  auto b = canary::dataset<double>("b", 1);
  auto many = canary::dataset<double>("many", params.partitions);
  canary::transform("init", canary::writes(a, b), [](canary::Task&, double& x, double& y) { x = 1, y = 0; });
  canary::loop(params.iterations, [&] {
    canary::reduce("fold", a, b, [](double& acc, const double& x) { acc += x; });
    canary::transform("mix", canary::reads(b), canary::writes(a),
                      [](canary::Task& t, const double& y, double& x) { x = y / 2 + 1 + t.iteration() % 3; });
    canary::broadcast("spread", a, many);
    canary::transform("bump", canary::writes(many), [](canary::Task& t, double& m) { m += t.index(); });
  });
  canary::transform("report", canary::reads(a, b), [](canary::Task& t, const double& x, const double& y) {
    t.output("a", x);
    t.output("b", y);
  });
  canary::transform("report_many", canary::reads(many),
                    [](canary::Task& t, const double& m) { t.output("many", m); });
}
