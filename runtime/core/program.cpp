#include <canary/program.h>

namespace canary::rt {

Program make_program(const ProgramTables& t) {
  Program p;
  p.job = t.job;
  p.graph_json = t.graph_json;
  for (const DatasetRow& d : t.datasets) {
    p.datasets.push_back({d.name, d.ops(), d.automatic});
    p.group_of.push_back(d.group);
  }
  for (const StageRow& s : t.stages) {
    const int* next = t.stage_datasets.rows + s.datasets;
    auto list = [&next](int size) {
      std::vector<int> out(next, next + size);
      next += size;
      return out;
    };
    StageInfo& info = p.stages.emplace_back();
    info.name = s.name;
    info.kind = s.kind;
    info.reads = list(s.reads);
    info.writes = list(s.writes);
    info.main_touches = list(s.main_touches);
    info.single_touches = list(s.single_touches);
    info.main_writes = list(s.main_writes);
    info.single_writes = list(s.single_writes);
    info.to = s.to;
    info.run = s.run;
    info.partitions_is_one = s.partitions_is_one;
  }
  auto nodes = [&](int first, int size) {
    return std::vector<Node>(t.nodes.rows + first, t.nodes.rows + first + size);
  };
  for (const BlockRow& b : t.blocks)
    p.blocks.push_back(
        {b.kind, b.parent, b.signal, nodes(b.body, b.body_size), nodes(b.else_body, b.else_size)});
  p.body = nodes(t.body, t.body_size);
  static_cast<ParamFunctions&>(p) = t.functions;
  return p;
}

}  // namespace canary::rt
