// The scheduling micro-benchmark of the paper's section 5.2: many stages of
// near-empty tasks, so nearly all the CPU time is the scheduler's.
#include <canary/dsl.h>

struct Params {
  int partitions = 10;  // 10 per compute thread, as in the paper
  int iterations = 2000;
};

CANARY_JOB(sched, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task& t, long& x) { x = t.index(); });
  canary::loop(params.iterations, [&] {
    canary::transform("s0", canary::writes(a), [](canary::Task&, long& x) { x += 1; });
    canary::transform("s1", canary::writes(a), [](canary::Task&, long& x) { x ^= 3; });
    canary::transform("s2", canary::writes(a), [](canary::Task&, long& x) { x += 2; });
    canary::transform("s3", canary::writes(a), [](canary::Task&, long& x) { x ^= 5; });
    canary::transform("s4", canary::writes(a), [](canary::Task&, long& x) { x += 3; });
    canary::transform("s5", canary::writes(a), [](canary::Task&, long& x) { x ^= 7; });
    canary::transform("s6", canary::writes(a), [](canary::Task&, long& x) { x += 4; });
    canary::transform("s7", canary::writes(a), [](canary::Task&, long& x) { x ^= 9; });
    canary::transform("s8", canary::writes(a), [](canary::Task&, long& x) { x += 5; });
    canary::transform("s9", canary::writes(a), [](canary::Task&, long& x) { x ^= 11; });
  });
  canary::transform("report", canary::reads(a), [](canary::Task& t, const long& x) { t.output("a", x); });
}
