#include <canary/dsl.h>
#include <functional>
struct Params { int partitions = 4; };
struct Rule { double weight = 1; std::function<double(double)> apply; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Rule>("a", params.partitions);  // expect-error: 'Rule::apply' is a 'std::function<double (double)>', which cannot cross workers
  canary::transform("init", canary::writes(a), [](canary::Task&, Rule& r) { r.weight = 2; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Rule&) {});
}
