#include <canary/program.h>

namespace canary::rt {

Program make_program(const ProgramTables& t) {
  Program p;
  p.job = t.job;
  p.graph_json = t.graph_json;
  for (const DatasetRow& d : t.datasets) {
    p.datasets.push_back({d.name, d.ops()});
    p.group_of.push_back(d.group);
  }
  for (const StageRow& s : t.stages) {
    const int* first = t.stage_datasets.rows + s.datasets;
    p.stages.push_back({s.name, s.kind, std::vector<int>(first, first + s.reads),
                        std::vector<int>(first + s.reads, first + s.reads + s.writes), s.to, s.run,
                        s.partitions_is_one});
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
