// A user's own job, built by find_package(Canary) and canary_add_job().
#include <canary/dsl.h>

#include "range.h"

struct Params {
  int partitions = 4;
  long n = 1000;
};

CANARY_JOB(sum_squares, Params p) {
  auto parts = canary::dataset<long>("parts", p.partitions);
  auto total = canary::dataset<long>("total", 1);
  canary::transform("square", canary::writes(parts), [p](canary::Task& t, long& s) {
    s = 0;
    for (long i = range_begin(p.n, t.index(), t.partitions());
         i < range_begin(p.n, t.index() + 1, t.partitions()); ++i)
      s += i * i;
  });
  canary::reduce("sum", parts, total, [](long& acc, const long& s) { acc += s; });
  canary::transform("report", canary::reads(total),
                    [](canary::Task& t, const long& s) { t.output("sum", s); });
}
