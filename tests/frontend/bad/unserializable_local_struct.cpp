#include <canary/dsl.h>
#include <string>
struct Params { int partitions = 4; };
CANARY_JOB(bad, Params params) {
  struct Local { std::string name; };
  auto a = canary::dataset<Local>("a", params.partitions);  // expect-error: it is declared inside a function, where the code canaryc generates cannot name it; declare it at namespace scope
  canary::transform("init", canary::writes(a), [](canary::Task&, Local& l) { l.name = "x"; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Local&) {});
}
