// Names and string defaults travel in the graph's JSON, which is UTF-8.
#include <canary/dsl.h>
#include <string>
struct Params {
  int partitions = 4;
  std::string tag = "t\xff";  // expect-error: the default of string parameter 'tag' is not valid UTF-8
};
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<double>("a\xfe", params.partitions);  // expect-error: a dataset's name must be valid UTF-8
  auto b = canary::dataset<double>("b", params.partitions);
  canary::transform("init\xc3", canary::writes(b), [](canary::Task&, double& x) { x = 1; });  // expect-error: a stage's name must be valid UTF-8
}
