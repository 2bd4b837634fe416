#include "touches.h"

#include <algorithm>

namespace canary::compiler {

Touches touches_of(const Stage& s) {
  Touches t;
  switch (s.kind) {
    case StageKind::Transform:  // reads, then the writes it does not also read
    case StageKind::Read:       // as a transform whose input is a file
    case StageKind::Write:      // as a transform whose output is a file
      t.main = s.reads;
      for (DatasetId w : s.writes)
        if (std::find(s.reads.begin(), s.reads.end(), w) == s.reads.end()) t.main.push_back(w);
      break;
    case StageKind::Scatter:  // reads its partition; what it sends is a message
      t.main = s.reads;
      break;
    case StageKind::Gather:  // merges what arrived into its partition
      t.main = s.writes;
      break;
    case StageKind::Reduce:  // main: sends partition i of the input; single: combines into the result
      t.main = s.reads;
      t.single = s.writes;
      break;
    case StageKind::Broadcast:  // single: sends the source; main: receives into partition i
      t.single = s.reads;
      t.main = s.writes;
      break;
    case StageKind::Signal:  // single: evaluates where the dataset's one partition is
      t.single = s.reads;
      break;
  }
  auto written = [&](const std::vector<DatasetId>& touched) {
    std::vector<DatasetId> out;
    for (DatasetId d : touched)
      if (std::find(s.writes.begin(), s.writes.end(), d) != s.writes.end()) out.push_back(d);
    return out;
  };
  t.main_writes = written(t.main);
  t.single_writes = written(t.single);
  return t;
}

}  // namespace canary::compiler
