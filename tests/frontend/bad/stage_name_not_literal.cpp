#include <canary/dsl.h>
#include <string>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a", params.partitions);
  std::string name = "init";
  canary::transform(name.c_str(), canary::writes(a), [](canary::Task&, double& x) { x = 1; });  // expect-error: a stage's name must be a string literal
  canary::transform("use", canary::reads(a), [](canary::Task&, const double&) {});
}
