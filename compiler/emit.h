// Renders a stage graph for other tools (canary-graph/1 JSON, documented in
// docs/graph-format.md) and for people (Graphviz DOT).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "graph.h"

namespace canary::compiler {

nlohmann::ordered_json graph_to_json(const Graph& graph);
std::string graph_to_dot(const Graph& graph);

}  // namespace canary::compiler
