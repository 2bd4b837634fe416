// Runtime Programs for unit tests, made from job models built by hand
// (job_builder.h) the way canaryc makes them: the same per-stage touches
// (compiler/touches.h) and co-location groups (build_graph), with counts
// given directly instead of generated from parameters.
#pragma once

#include <canary/program.h>

#include <utility>
#include <vector>

#include "graph.h"
#include "touches.h"

namespace canary::testing {

// What a Program made by program_of() takes as its "parameters": the counts
// the parameters would give, per dataset and per block.
using Counts = std::pair<std::vector<int>, std::vector<int>>;

// Every dataset holds doubles.
inline rt::Program program_of(const compiler::Job& job) {
  compiler::Graph graph = compiler::build_graph(job);
  rt::Program p;
  p.job = job.name.empty() ? "test" : job.name;
  p.graph_json = "{}";
  for (const compiler::Dataset& d : job.datasets)
    p.datasets.push_back({d.name, rt::type_ops<double>(), d.partitions.is_automatic()});
  p.group_of = graph.group_of;
  for (const compiler::Stage& s : job.stages) {
    compiler::Touches t = compiler::touches_of(s);
    rt::StageInfo& info = p.stages.emplace_back();
    info.name = s.name;
    info.kind = static_cast<rt::StageKind>(s.kind);
    info.reads = s.reads;
    info.writes = s.writes;
    info.to = s.scatter_to;
    info.partitions_is_one = s.partitions.constant && *s.partitions.constant == 1;
    info.main_touches = t.main;
    info.single_touches = t.single;
    info.main_writes = t.main_writes;
    info.single_writes = t.single_writes;
  }
  auto nodes = [](const std::vector<compiler::Node>& list) {
    std::vector<rt::Node> out;
    for (const compiler::Node& n : list) out.push_back({n.kind == compiler::Node::Kind::Block, n.id});
    return out;
  };
  for (const compiler::Block& b : job.blocks)
    p.blocks.push_back(
        {static_cast<rt::BlockKind>(b.kind), b.parent, b.signal, nodes(b.body), nodes(b.else_body)});
  p.body = nodes(job.body);
  // The counts travel through the params pointer (a Counts).
  p.new_params = [] { return static_cast<void*>(nullptr); };
  p.delete_params = [](void*) {};
  p.set_param = [](void*, const std::string&, const std::string&, std::string&) { return false; };
  p.evaluate_counts = [](const void* counts, std::vector<long long>& datasets,
                         std::vector<long long>& blocks) {
    const auto* c = static_cast<const std::pair<std::vector<int>, std::vector<int>>*>(counts);
    datasets.assign(c->first.begin(), c->first.end());
    blocks.assign(c->second.begin(), c->second.end());
  };
  p.bind = [](const void*) {};
  return p;
}

}  // namespace canary::testing
