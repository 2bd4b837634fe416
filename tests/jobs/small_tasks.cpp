// Tasks far shorter than what the scheduler spends on each: with fewer
// partitions the same work takes fewer tasks. The partitions never wait
// for each other, so the threads are busy with nothing but tasks.
#include <canary/dsl.h>

struct Params {
  long rounds = 1000;  // a long: a count beyond an int's range must be refused, not wrapped
  long every = 1;      // runs rounds / every rounds: a division by zero is refused, not a trap
};

CANARY_JOB(small_tasks, Params params) {
  auto counters = canary::dataset<long>("counters", canary::automatic);
  canary::transform("init", canary::writes(counters), [](canary::Task&, long& x) { x = 0; });
  canary::loop(params.rounds / params.every, [&] {
    canary::transform("add", canary::writes(counters), [](canary::Task&, long& x) { x += 3; });
    canary::transform("mix", canary::writes(counters), [](canary::Task&, long& x) { x ^= 5; });
  });
  canary::transform("report", canary::reads(counters),
                    [](canary::Task& t, const long& x) { t.output("counter", x); });
}
