#include <canary/dsl.h>
struct Params {
  int partitions = 2;
  int threads = 4;  // expect-error: job parameter 'threads' has the name of the flag --threads of every job binary; rename this field
};
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<long>("a", params.partitions);
  canary::transform("init", canary::writes(a), [params](canary::Task& t, long& x) {
    x = params.threads;
    t.output("x", x);
  });
}
