// The t.output() values of a run: per key, the value of each partition
// index. A worker collects its tasks' and hands them to the controller,
// which collects every worker's and writes the results.
#pragma once

#include <canary/program.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/ids.h"

namespace canary::rt {

// Of two values for one key and index, the one from the later stage
// instance (`seq`) wins, whichever worker made it: partitions migrate, and
// a rollback makes values again.
class Outputs {
 public:
  explicit Outputs(const Program& program) : program_(program) {}

  // One value: made by instance `seq` of `stage` on partition `index`.
  struct Entry {
    std::string key;
    StageId stage;
    int index;
    Seq seq;
    std::string json;
  };
  void add(Entry entry);
  // {key: value} as JSON text; a key made by a stage with more than one
  // partition becomes a list ordered by partition index.
  std::string to_json() const;

  // Every value, to hand to another Outputs (a worker's, to the controller's).
  std::vector<Entry> entries() const;
  // Forgets every value: the job starts over with other partition counts.
  void clear();

 private:
  struct Values {
    bool list = false;
    std::map<int, std::pair<Seq, std::string>> by_index;  // index -> (seq, json)
  };
  const Program& program_;
  mutable std::mutex mutex_;
  std::map<std::string, Values> values_;
  std::map<std::string, StageId> stage_of_;
};

}  // namespace canary::rt
