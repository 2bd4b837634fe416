#include <canary/dsl.h>
struct Params { int partitions = 4; };
union Number { long whole; double real; };
struct Cell { int kind = 0; Number value; };
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Cell>("a", params.partitions);  // expect-error: 'Cell::value' is a 'Number', which cannot cross workers: a union does not say which of its members holds the value; use std::variant
  canary::transform("init", canary::writes(a), [](canary::Task&, Cell& c) { c.kind = 1; });
  canary::transform("use", canary::reads(a), [](canary::Task&, const Cell&) {});
}
