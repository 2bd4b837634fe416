// Partition and loop counts: constants, parameters, expressions of them, a
// local variable holding one (read again inside a loop body, which takes it
// by reference without changing it), values from -D and -I, and
// canary::automatic (one symbol: two datasets declared so may be used
// together).
#include <canary/dsl.h>

#include "shared_sizes.h"

struct Params {
  int partitions = 4;
  long rounds = 3;
  bool verbose = true;
  std::string label = "run";
  double tolerance = 1e-6;
};

CANARY_JOB(counts_and_flags, Params p) {
  int doubled = p.partitions * 2;
  auto a = canary::dataset<double>("a", p.partitions);
  auto b = canary::dataset<double>("b", doubled);
  auto c = canary::dataset<double>("c", kBuckets);
  auto d = canary::dataset<double>("d", PARTS);
  auto e = canary::dataset<double>("e", canary::automatic);
  auto f = canary::dataset<double>("f", canary::automatic);
  canary::transform("fill_a", canary::writes(a), [](canary::Task& t, double& x) { x = t.index(); });
  canary::transform("fill_b", canary::writes(b), [p](canary::Task&, double& x) { x = p.tolerance; });
  canary::transform("fill_cd", canary::writes(c), [](canary::Task&, double& x) { x = 1; });
  canary::transform("fill_d", canary::writes(d), [](canary::Task&, double& x) { x = 1; });
  canary::loop(p.rounds * 2 + 1, [&] {
    canary::transform("bump", canary::writes(a), [](canary::Task&, double& x) { x += 1; });
  });
  canary::transform("report", canary::reads(a), [](canary::Task& t, const double& x) { t.output("a", x); });
  canary::transform("report_b", canary::reads(b), [](canary::Task& t, const double& x) { t.output("b", x); });
  canary::transform("report_c", canary::reads(c), [](canary::Task& t, const double& x) { t.output("c", x); });
  canary::transform("report_d", canary::reads(d), [](canary::Task& t, const double& x) { t.output("d", x); });
  canary::transform("fill_ef", canary::writes(e, f), [](canary::Task& t, double& x, double& y) { x = y = t.partitions(); });
  canary::transform("report_ef", canary::reads(e, f), [](canary::Task& t, const double& x, const double& y) { t.output("ef", x + y); });
  canary::loop(p.rounds, [&] {
    canary::loop(doubled, [&] {
      canary::transform("bump_b", canary::writes(b), [](canary::Task&, double& x) { x += 1; });
    });
  });
}
