// The stage graph: a checked job plus its data-dependency edges and the
// placement constraints the controller must respect (DESIGN.md section 5).
#pragma once

#include <string>
#include <vector>

#include "diagnostics.h"
#include "job.h"

namespace canary::compiler {

enum class EdgeKind {
  ReadAfterWrite,   // `to` reads what `from` wrote
  WriteAfterRead,   // `to` overwrites what `from` read
  WriteAfterWrite,  // `to` updates what `from` wrote
  Chunks,           // `to` gathers the chunks scatter `from` sent
};

struct Edge {
  StageId from = kNone;
  StageId to = kNone;
  DatasetId dataset = kNone;
  EdgeKind kind = EdgeKind::ReadAfterWrite;
  BlockId crosses = kNone;  // the loop whose iteration boundary the edge crosses
};

// Datasets whose partition i must live on one worker, because one task
// touches partition i of each of them.
struct ColocationGroup {
  int id = kNone;
  std::vector<DatasetId> datasets;
  Count partitions;
};

struct Graph {
  Job job;
  std::vector<Edge> edges;
  std::vector<ColocationGroup> groups;
  std::vector<int> group_of;  // per dataset
};

// Runs every check of DESIGN.md section 4 that needs only the job model.
// Returns false when an error was reported.
bool check_job(const Job& job, DiagnosticSink& sink);

// The flags every job binary has (runtime/job/command_line.cpp) whose names
// are C++ identifiers: a job parameter cannot be called like one of them.
// A unit test keeps this list and the binary's help in step.
const std::vector<std::string>& job_binary_flags();

// Builds edges and co-location groups. Expects a job that passed check_job.
Graph build_graph(Job job);

const char* to_string(EdgeKind kind);

}  // namespace canary::compiler
