#include <canary/dsl.h>
struct Params { int partitions = 4; };
struct Shape { virtual ~Shape() = default; double size = 1; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Shape>("a", params.partitions);  // expect-error: 'Shape' cannot cross workers: it has virtual functions: it is not plain data
  canary::transform("init", canary::writes(a), [](canary::Task&, Shape& s) { s.size = 2; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Shape&) {});
}
