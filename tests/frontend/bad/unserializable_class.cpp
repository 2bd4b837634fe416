#include <canary/dsl.h>
#include <vector>
struct Params { int partitions = 4; };
struct Bag { std::vector<double> items; int tag = 0; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<std::vector<Bag>>("a", params.partitions);  // expect-error: 'Bag' is not trivially copyable and has no canary::Serializer specialization
  canary::transform("init", canary::writes(a), [](canary::Task&, std::vector<Bag>& b) { b.resize(1); });
  canary::transform("use", canary::reads(a), [](canary::Task&, const std::vector<Bag>&) {});
}
