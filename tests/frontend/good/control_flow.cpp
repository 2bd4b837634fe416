// loop_while around a loop holding an if_ with both arms, and an if_ with
// no else arm.
#include <canary/dsl.h>

struct Params {
  int partitions = 3;
  int inner = 2;
};

CANARY_JOB(control_flow, Params params) {
  auto cells = canary::dataset<double>("cells", params.partitions);
  auto sum = canary::dataset<double>("sum", 1);
  auto steps = canary::dataset<int>("steps", 1);
  canary::transform("seed", canary::writes(cells), [](canary::Task& t, double& c) { c = t.index(); });
  canary::transform("zero", canary::writes(steps), [](canary::Task&, int& s) { s = 0; });
  canary::loop_while("unfinished", canary::reads(steps), [](const int& s) { return s < 4; }, [&] {
    canary::loop(params.inner, [&] {
      canary::reduce("total", cells, sum, [](double& acc, const double& x) { acc += x; });
      canary::if_(
          "large", canary::reads(sum), [](const double& s) { return s > 10; },
          [&] { canary::transform("shrink", canary::writes(cells), [](canary::Task&, double& c) { c /= 2; }); },
          [&] { canary::transform("grow", canary::writes(cells), [](canary::Task&, double& c) { c *= 3; }); });
    });
    canary::transform("count", canary::writes(steps), [](canary::Task&, int& s) { s += 1; });
  });
  canary::if_("odd", canary::reads(steps), [](const int& s) { return s % 2 == 1; },
              [&] { canary::transform("fix", canary::writes(cells), [](canary::Task&, double& c) { c += 1; }); });
  canary::transform("report", canary::reads(cells), [](canary::Task& t, const double& c) { t.output("cells", c); });
}
