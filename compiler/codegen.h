// Code generation: the job's OUT.tasks.cpp. It includes the driver, lifts
// each stage's function out of the job body under #line directives (so
// compiler errors and debuggers point at the driver), wraps it in a typed
// run_stage_N that unpacks the partitions, and fills the static tables
// (datasets, stages, blocks, groups, parameters) libcanary executes.
#pragma once

#include <string>

#include "graph.h"

namespace canary::compiler {

// `driver_path` is how the generated file includes the driver; `output_path`
// is the generated file's own name, for the #line directives that return to it.
std::string generate_tasks_cpp(const Graph& graph, const std::string& graph_json,
                               const std::string& driver_path, const std::string& output_path);

}  // namespace canary::compiler
