// Which datasets each task of a stage touches, by the role the task plays:
// the one the runtime schedules by (DESIGN.md section 6: what canaryc knows
// is compiled into the job). Every kind of stage is one case here.
#pragma once

#include <vector>

#include "job.h"

namespace canary::compiler {

struct Touches {
  // The per-partition ("main") tasks touch partition i of `main`; a reduce's
  // combine, a broadcast's send and a signal's evaluation are one task on
  // partition 0 of `single` (a one-partition dataset, as checks make sure).
  std::vector<DatasetId> main, single;
  // Of those, the ones the task may change.
  std::vector<DatasetId> main_writes, single_writes;
};

Touches touches_of(const Stage& stage);

}  // namespace canary::compiler
