#include <canary/dsl.h>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, auto& x) {
    x.no_such_member();  // expect-error: member reference base type 'double' is not a structure or union
  });
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
