#include "emit.h"

namespace canary::compiler {
namespace {

using Json = nlohmann::ordered_json;

Json loc_json(const SourceLoc& loc) {
  return Json{{"file", loc.file}, {"line", loc.line}, {"column", loc.column}};
}

// A count is a number when constant, else a parameter name or an expression
// over parameter names.
Json count_json(const Count& c) {
  if (c.constant) return *c.constant;
  return c.expression;
}

Json id_or_null(int id) { return id == kNone ? Json(nullptr) : Json(id); }

Json default_json(const Param& p) {
  Json parsed = Json::parse(p.default_value, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return p.default_value;  // e.g. 1'000'000 or 1e6L: keep the source
  if (p.type == ParamType::Bool && parsed.is_number()) return parsed != 0;
  return parsed;
}

Json nodes_json(const std::vector<Node>& nodes) {
  Json out = Json::array();
  for (const Node& n : nodes) out.push_back({{n.kind == Node::Kind::Stage ? "stage" : "block", n.id}});
  return out;
}

const char* branch_name(Branch b) {
  switch (b) {
    case Branch::Then:
      return "then";
    case Branch::Else:
      return "else";
    case Branch::None:
      break;
  }
  return nullptr;
}

}  // namespace

Json graph_to_json(const Graph& g) {
  const Job& job = g.job;
  Json params = Json::array();
  for (const Param& p : job.params)
    params.push_back({{"name", p.name},
                      {"type", to_string(p.type)},
                      {"default", default_json(p)},
                      {"loc", loc_json(p.loc)}});

  Json datasets = Json::array();
  for (const Dataset& d : job.datasets)
    datasets.push_back({{"id", d.id},
                        {"name", d.name},
                        {"type", d.type},
                        {"partitions", count_json(d.partitions)},
                        {"group", g.group_of[d.id]},
                        {"loc", loc_json(d.loc)}});

  Json stages = Json::array();
  for (const Stage& s : job.stages) {
    Json stage = {{"id", s.id},
                  {"name", s.name},
                  {"kind", to_string(s.kind)},
                  {"reads", s.reads},
                  {"writes", s.writes}};
    if (s.kind == StageKind::Scatter) stage["to"] = s.scatter_to;
    if (!s.combine_text.empty()) stage["combine_loc"] = loc_json(s.combine_loc);
    if (s.kind == StageKind::Read || s.kind == StageKind::Write) {
      Json files =
          s.files.param.empty() ? Json{{"literal", s.files.literal}} : Json{{"param", s.files.param}};
      if (s.files.record_bytes > 0) files["record_bytes"] = s.files.record_bytes;
      stage["files"] = files;
    }
    stage["partitions"] = count_json(s.partitions);
    stage["block"] = id_or_null(s.block);
    if (const char* arm = branch_name(s.branch)) stage["branch"] = arm;
    stage["loc"] = loc_json(s.loc);
    stage["function_loc"] = loc_json(s.function_loc);
    stages.push_back(std::move(stage));
  }

  Json blocks = Json::array();
  for (const Block& b : job.blocks) {
    Json block = {{"id", b.id}, {"kind", to_string(b.kind)}};
    if (b.kind == BlockKind::Loop) block["count"] = count_json(b.count);
    if (b.signal != kNone) block["signal"] = b.signal;
    block["parent"] = id_or_null(b.parent);
    if (b.kind == BlockKind::If) {
      block["then"] = nodes_json(b.body);
      block["else"] = nodes_json(b.else_body);
    } else {
      block["children"] = nodes_json(b.body);
    }
    block["loc"] = loc_json(b.loc);
    blocks.push_back(std::move(block));
  }

  Json edges = Json::array();
  for (const Edge& e : g.edges)
    edges.push_back({{"from", e.from},
                     {"to", e.to},
                     {"dataset", e.dataset},
                     {"kind", to_string(e.kind)},
                     {"crosses_iteration", e.crosses != kNone},
                     {"loop", id_or_null(e.crosses)}});

  Json groups = Json::array();
  for (const ColocationGroup& c : g.groups)
    groups.push_back({{"id", c.id}, {"datasets", c.datasets}, {"partitions", count_json(c.partitions)}});
  Json signals = Json::array();
  for (const Block& b : job.blocks)
    if (b.signal != kNone) {
      const Stage& s = job.stages[b.signal];
      signals.push_back({{"signal", s.id}, {"name", s.name}, {"dataset", s.reads.front()}, {"block", b.id}});
    }

  return Json{{"format", "canary-graph/1"},
              {"job", job.name},
              {"source", job.source},
              {"params_type", job.params_type},
              {"params", params},
              {"datasets", datasets},
              {"stages", stages},
              {"blocks", blocks},
              {"body", nodes_json(job.body)},
              {"edges", edges},
              {"placement", {{"colocation_groups", groups}, {"signal_inputs", signals}}}};
}

}  // namespace canary::compiler
