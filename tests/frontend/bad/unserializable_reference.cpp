#include <canary/dsl.h>
struct Params { int partitions = 4; };
inline double shared_scale = 2;
struct Scaled { double value = 0; double& scale = shared_scale; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Scaled>("a", params.partitions);  // expect-error: 'Scaled::scale' is a 'double &', which cannot cross workers: a reference means nothing on another worker
  canary::transform("init", canary::writes(a), [](canary::Task&, Scaled& s) { s.value = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Scaled&) {});
}
