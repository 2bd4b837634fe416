// The checks of DESIGN.md section 4 that need only the job model. Those that
// need the C++ syntax tree (captures, DSL calls in the wrong place, types that
// cannot be serialized) are made by the extractor.
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "graph.h"

namespace canary::compiler {
namespace {

std::string describe(const Count& c) { return c.expression; }

class JobChecker {
 public:
  JobChecker(const Job& job, DiagnosticSink& sink) : job_(job), sink_(sink) {}

  bool run() {
    check_unique_names();
    check_param_names();
    for (const Stage& s : job_.stages) check_stage(s);
    check_read_before_write();
    check_scatter_gather_pairs(job_.body);
    if (ok_) warn_unread_datasets();
    return ok_;
  }

 private:
  void error(const SourceLoc& loc, const std::string& message) {
    sink_.error(loc, message);
    ok_ = false;
  }
  const Dataset& dataset(DatasetId id) const { return job_.datasets[id]; }

  void check_unique_names() {
    std::map<std::string, const Dataset*> datasets;
    for (const Dataset& d : job_.datasets) {
      auto [it, fresh] = datasets.emplace(d.name, &d);
      if (!fresh) {
        error(d.loc, "duplicate dataset name '" + d.name + "'");
        sink_.note(it->second->loc, "'" + d.name + "' was first declared here");
      }
    }
    std::map<std::string, const Stage*> stages;
    for (const Stage& s : job_.stages) {
      auto [it, fresh] = stages.emplace(s.name, &s);
      if (!fresh) {
        error(s.loc, "duplicate stage name '" + s.name + "'");
        sink_.note(it->second->loc, "'" + s.name + "' was first used here");
      }
    }
  }

  void check_param_names() {
    const std::vector<std::string>& taken = job_binary_flags();
    for (const Param& p : job_.params)
      if (std::find(taken.begin(), taken.end(), p.name) != taken.end())
        error(p.loc, "job parameter '" + p.name + "' has the name of the flag --" + p.name +
                         " of every job binary; rename this field");
  }

  void require_single(const Stage& s, DatasetId id, const char* role) {
    const Dataset& d = dataset(id);
    if (d.partitions != Count::of(1))
      error(s.loc, std::string(to_string(s.kind)) + " '" + s.name + "': " + role + " '" + d.name +
                       "' must have 1 partition, but has " + describe(d.partitions));
  }

  // Every dataset in `ids` must share the partitioning of the first.
  void require_same_partitions(const Stage& s, const std::vector<DatasetId>& ids) {
    if (ids.empty()) return;
    const Dataset& first = dataset(ids.front());
    for (DatasetId id : ids) {
      const Dataset& d = dataset(id);
      if (d.partitions != first.partitions) {
        error(s.loc, "partition counts differ in stage '" + s.name + "': '" + first.name + "' has " +
                         describe(first.partitions) + ", '" + d.name + "' has " + describe(d.partitions));
        return;
      }
    }
  }

  void check_stage(const Stage& s) {
    std::set<DatasetId> written;
    for (DatasetId id : s.writes)
      if (!written.insert(id).second)
        error(s.loc, "stage '" + s.name + "' writes dataset '" + dataset(id).name + "' twice");
    switch (s.kind) {
      case StageKind::Transform:
      case StageKind::Read:
      case StageKind::Write: {
        std::vector<DatasetId> all = s.reads;
        all.insert(all.end(), s.writes.begin(), s.writes.end());
        require_same_partitions(s, all);
        if (all.empty())
          error(s.loc, std::string(to_string(s.kind)) + " '" + s.name + "' touches no dataset");
        break;
      }
      case StageKind::Scatter:
        require_same_partitions(s, s.reads);
        if (s.reads.empty()) error(s.loc, "scatter '" + s.name + "' reads no dataset");
        break;
      case StageKind::Signal:
        require_single(s, s.reads.front(), "the signal's dataset");
        break;
      case StageKind::Broadcast:
        require_single(s, s.reads.front(), "the broadcast's source");
        break;
      case StageKind::Reduce:
        require_single(s, s.writes.front(), "the reduction's result");
        break;
      case StageKind::Gather:
        break;
    }
  }

  // Stage ids follow program order, so "before" is "with a smaller id".
  void check_read_before_write() {
    std::set<DatasetId> written;
    for (const Stage& s : job_.stages) {
      for (DatasetId id : s.reads)
        if (!written.count(id)) {
          error(s.loc, std::string(to_string(s.kind)) + " '" + s.name + "' reads dataset '" +
                           dataset(id).name + "' before any stage writes it");
          written.insert(id);  // one error per dataset is enough
        }
      written.insert(s.writes.begin(), s.writes.end());
    }
  }

  // A scatter's chunks are merged by the next gather of its destination in
  // the same block; any other arrangement would leave chunks unclaimed or a
  // gather waiting forever.
  void check_scatter_gather_pairs(const std::vector<Node>& body) {
    std::map<DatasetId, const Stage*> open;  // destination -> scatter awaiting its gather
    auto visit_arm = [this](const std::vector<Node>& arm) { check_scatter_gather_pairs(arm); };
    for (const Node& n : body) {
      if (n.kind == Node::Kind::Block) {
        const Block& b = job_.blocks[n.id];
        visit_arm(b.body);
        visit_arm(b.else_body);
        continue;
      }
      const Stage& s = job_.stages[n.id];
      if (s.kind == StageKind::Scatter) {
        auto [it, fresh] = open.emplace(s.scatter_to, &s);
        if (!fresh) {
          error(s.loc, "scatter '" + s.name + "' sends to '" + dataset(s.scatter_to).name +
                           "' before scatter '" + it->second->name + "' was gathered");
          it->second = &s;
        }
      } else if (s.kind == StageKind::Gather) {
        DatasetId d = s.writes.front();
        if (open.erase(d) == 0)
          error(s.loc, "gather '" + s.name + "' has no scatter to '" + dataset(d).name +
                           "' before it in the same block");
      }
    }
    for (const auto& [d, scatter] : open)
      error(scatter->loc, "scatter '" + scatter->name + "' sends to '" + dataset(d).name +
                              "' but no gather of it follows in the same block");
  }

  void warn_unread_datasets() {
    std::set<DatasetId> read, touched;
    for (const Stage& s : job_.stages) {
      read.insert(s.reads.begin(), s.reads.end());
      touched.insert(s.reads.begin(), s.reads.end());
      touched.insert(s.writes.begin(), s.writes.end());
      if (s.scatter_to != kNone) touched.insert(s.scatter_to);
    }
    for (const Dataset& d : job_.datasets) {
      if (!touched.count(d.id))
        sink_.warning(d.loc, "dataset '" + d.name + "' is never used");
      else if (!read.count(d.id))
        sink_.warning(d.loc, "dataset '" + d.name + "' is written but never read");
    }
  }

  const Job& job_;
  DiagnosticSink& sink_;
  bool ok_ = true;
};

}  // namespace

bool check_job(const Job& job, DiagnosticSink& sink) { return JobChecker(job, sink).run(); }

const std::vector<std::string>& job_binary_flags() {
  static const std::vector<std::string> flags = {
      "controller", "cpus",   "dispatch", "expect",  "graph",  "help",     "host",    "http",    "insecure",
      "keys",       "listen", "quiet",    "results", "resume", "slowdown", "threads", "timeout", "workers"};
  return flags;
}

}  // namespace canary::compiler
