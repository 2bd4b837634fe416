#include <canary/dsl.h>
#include <memory>
#include <vector>
struct Params { int partitions = 4; };
struct Record { std::vector<double> values; std::unique_ptr<int> payload; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<std::vector<Record>>("a", params.partitions);  // expect-error: 'Record::payload' is a 'std::unique_ptr<int>', which cannot cross workers
  canary::transform("init", canary::writes(a), [](canary::Task&, std::vector<Record>& r) { r.resize(1); });
  canary::transform("use", canary::reads(a), [](canary::Task&, const std::vector<Record>&) {});
}
