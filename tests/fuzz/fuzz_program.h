// A small job model for the fuzzers: a scatter/gather pair, a reduce and a
// broadcast over datasets of the types examples exchange, so that every
// decoder has stages and partitions to check input against.
#pragma once

#include <canary/program.h>

#include <utility>
#include <vector>

namespace canary::fuzz {

using Contributions = std::vector<std::pair<long, double>>;

inline const rt::Program& program() {
  static const rt::Program p = [] {
    rt::Program p;
    p.job = "fuzz";
    p.datasets.push_back({"graph", rt::type_ops<std::vector<double>>(), false});
    p.datasets.push_back({"incoming", rt::type_ops<Contributions>(), false});
    p.datasets.push_back({"total", rt::type_ops<std::vector<double>>(), false});
    p.stages.push_back({"contribute", rt::StageKind::Scatter, {0}, {}, 1, nullptr, false, {0}, {}, {}, {}});
    p.stages.push_back({"collect", rt::StageKind::Gather, {}, {1}, -1, nullptr, false, {1}, {}, {1}, {}});
    p.stages.push_back({"sum", rt::StageKind::Reduce, {0}, {2}, -1, nullptr, true, {0}, {2}, {}, {2}});
    p.stages.push_back({"share", rt::StageKind::Broadcast, {2}, {0}, -1, nullptr, false, {0}, {2}, {0}, {}});
    p.body = {{false, 0}, {false, 1}, {false, 2}, {false, 3}};
    p.group_of = {0, 0, 1};
    return p;
  }();
  return p;
}

}  // namespace canary::fuzz
