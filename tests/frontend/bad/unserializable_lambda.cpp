#include <canary/dsl.h>
struct Params { int partitions = 4; };
inline auto twice = [](double x) { return 2 * x; };
struct Step { double x = 0; decltype(twice) how; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Step>("a", params.partitions);  // expect-error: which cannot cross workers: a lambda's closure holds code, not data
  canary::transform("init", canary::writes(a), [](canary::Task&, Step& s) { s.x = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Step&) {});
}
