// The graph builder and the job checks, on job models built by hand.
#include "graph.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <set>
#include <tuple>

#include "graph_reference.h"
#include "job_builder.h"

using namespace canary::compiler;
using canary::compiler::testing::JobBuilder;

namespace {

using EdgeKey = std::tuple<std::string, std::string, std::string, std::string, bool>;

// Edges as (from, to, dataset, kind, crosses an iteration), by name.
std::set<EdgeKey> edges_of(const Graph& g) {
  std::set<EdgeKey> out;
  for (const Edge& e : g.edges)
    out.insert({g.job.stages[e.from].name, g.job.stages[e.to].name, g.job.datasets[e.dataset].name,
                to_string(e.kind), e.crosses != kNone});
  return out;
}

std::vector<std::string> errors_of(const Job& job) {
  CollectingSink sink;
  check_job(job, sink);
  std::vector<std::string> out;
  for (const auto& e : sink.entries)
    if (e.severity == Severity::Error) out.push_back(e.message);
  return out;
}

bool mentions(const std::vector<std::string>& messages, const std::string& text) {
  return std::any_of(messages.begin(), messages.end(),
                     [&](const std::string& m) { return m.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("straight-line stages get read-after-write, write-after-read and write-after-write edges") {
  JobBuilder b;
  auto a = b.dataset("a", Count::of(4));
  auto c = b.dataset("c", Count::of(4));
  b.transform("make", {}, {a});
  b.transform("use", {a}, {c});
  b.transform("remake", {}, {a});
  b.transform("report", {a, c}, {});
  Graph g = build_graph(b.job);
  CHECK(edges_of(g) == std::set<EdgeKey>{
                           {"make", "use", "a", "raw", false},
                           {"make", "remake", "a", "waw", false},
                           {"use", "remake", "a", "war", false},
                           {"remake", "report", "a", "raw", false},
                           {"use", "report", "c", "raw", false},
                       });
}

TEST_CASE("a loop body's edges from the previous iteration cross it") {
  JobBuilder b;
  auto w = b.dataset("w", Count::of(1));
  auto g = b.dataset("g", Count::of(1));
  b.transform("init", {}, {w});
  BlockId loop = b.loop(Count{std::nullopt, "iterations", "params.iterations"}, [&] {
    b.transform("grad", {w}, {g});
    b.transform("step", {g}, {w});
  });
  Graph graph = build_graph(b.job);
  CHECK(edges_of(graph) == std::set<EdgeKey>{
                               {"init", "grad", "w", "raw", false},
                               {"step", "grad", "w", "raw", true},
                               {"grad", "grad", "g", "waw", true},
                               {"step", "grad", "g", "war", true},
                               {"grad", "step", "g", "raw", false},
                               {"init", "step", "w", "waw", false},
                               {"grad", "step", "w", "war", false},
                               {"step", "step", "w", "waw", true},
                           });
  for (const Edge& e : graph.edges)
    if (e.crosses != kNone) CHECK(e.crosses == loop);
}

TEST_CASE("both arms of an if_ reach the stage after it, and the signal depends on its dataset") {
  JobBuilder b;
  auto s = b.dataset("s", Count::of(1));
  auto x = b.dataset("x", Count::of(1));
  b.transform("init", {}, {s, x});
  b.if_(
      "big", s, [&] { b.transform("halve", {}, {x}); }, [&] { b.transform("double", {}, {x}); });
  b.transform("report", {x}, {});
  Graph g = build_graph(b.job);
  std::set<EdgeKey> edges = edges_of(g);
  CHECK(edges.count({"init", "big", "s", "raw", false}));
  CHECK(edges.count({"halve", "report", "x", "raw", false}));
  CHECK(edges.count({"double", "report", "x", "raw", false}));
  CHECK_FALSE(edges.count({"halve", "double", "x", "waw", false}));  // the arms exclude each other
  CHECK_FALSE(edges.count({"init", "report", "x", "raw", false}));   // both arms overwrite x
}

TEST_CASE("an if_ with an empty else arm lets the value before it through") {
  JobBuilder b;
  auto s = b.dataset("s", Count::of(1));
  auto x = b.dataset("x", Count::of(1));
  b.transform("init", {}, {s, x});
  b.if_("big", s, [&] { b.transform("halve", {}, {x}); });
  b.transform("report", {x}, {});
  std::set<EdgeKey> edges = edges_of(build_graph(b.job));
  CHECK(edges.count({"init", "report", "x", "raw", false}));
  CHECK(edges.count({"halve", "report", "x", "raw", false}));
}

TEST_CASE("a while loop's signal sees the body's last write across the iteration") {
  JobBuilder b;
  auto s = b.dataset("s", Count::of(1));
  b.transform("init", {}, {s});
  b.loop_while("more", s, [&] { b.transform("grow", {}, {s}); });
  b.transform("report", {s}, {});
  std::set<EdgeKey> edges = edges_of(build_graph(b.job));
  CHECK(edges.count({"init", "more", "s", "raw", false}));
  CHECK(edges.count({"grow", "more", "s", "raw", true}));
  CHECK(edges.count({"more", "grow", "s", "war", false}));
  CHECK(edges.count({"grow", "report", "s", "raw", false}));
  CHECK(edges.count({"init", "report", "s", "raw", false}));  // zero iterations
}

TEST_CASE("a nested loop's edges cross the loop they come around") {
  JobBuilder b;
  auto x = b.dataset("x", Count::of(2));
  auto y = b.dataset("y", Count::of(2));
  b.transform("init", {}, {x, y});
  BlockId outer = kNone, inner = kNone;
  outer = b.loop(Count::of(3), [&] {
    b.transform("outer_step", {y}, {x});
    inner = b.loop(Count::of(2), [&] { b.transform("inner_step", {x}, {y}); });
  });
  Graph g = build_graph(b.job);
  bool inner_waw = false, outer_raw = false;
  for (const Edge& e : g.edges) {
    const std::string& from = g.job.stages[e.from].name;
    const std::string& to = g.job.stages[e.to].name;
    if (from == "inner_step" && to == "inner_step" && e.kind == EdgeKind::WriteAfterWrite)
      inner_waw = e.crosses == inner;
    if (from == "inner_step" && to == "outer_step" && e.kind == EdgeKind::ReadAfterWrite)
      outer_raw = e.crosses == outer;
  }
  CHECK(inner_waw);
  CHECK(outer_raw);
}

// Random programs: stages reading and writing random datasets, nested in
// random loops, while-loops and branches.
class RandomProgram {
 public:
  explicit RandomProgram(unsigned seed) : rng_(seed) {
    for (int d = 0; d < 4; ++d) data_.push_back(b_.dataset("d" + std::to_string(d), Count::of(1)));
    body(0);
  }
  const Job& job() const { return b_.job; }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::vector<DatasetId> some() {
    std::vector<DatasetId> out;
    for (DatasetId d : data_)
      if (pick(3) == 0) out.push_back(d);
    return out;
  }
  std::string name() { return "s" + std::to_string(names_++); }
  void body(int depth) {
    for (int n = 1 + pick(4); n > 0; --n) {
      int what = depth < 4 ? pick(6) : 0;
      if (what <= 2) {
        b_.transform(name(), some(), some());
      } else if (what == 3) {
        b_.loop(Count::of(2), [&] { body(depth + 1); });
      } else if (what == 4) {
        b_.loop_while(name(), data_[pick(4)], [&] { body(depth + 1); });
      } else {
        b_.if_(
            name(), data_[pick(4)], [&] { body(depth + 1); }, [&] { body(depth + 1); });
      }
    }
  }

  std::mt19937 rng_;
  JobBuilder b_;
  std::vector<DatasetId> data_;
  int names_ = 0;
};

TEST_CASE("the edges are those of walking every loop body twice, on random programs") {
  for (unsigned seed = 1; seed <= 300; ++seed) {
    RandomProgram p(seed);
    std::vector<Edge> want = canary::compiler::testing::ReferenceEdges(p.job()).run();
    Graph g = build_graph(p.job());
    INFO("seed " << seed);
    REQUIRE(g.edges.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      const Edge& e = g.edges[i];
      CHECK(std::tie(e.from, e.to, e.dataset, e.kind, e.crosses) ==
            std::tie(want[i].from, want[i].to, want[i].dataset, want[i].kind, want[i].crosses));
    }
  }
}

TEST_CASE("loops nested 64 deep take one walk per level, not two") {
  JobBuilder b;
  auto x = b.dataset("x", Count::of(2));
  b.transform("init", {}, {x});
  std::function<void(int)> nest = [&](int depth) {
    b.transform("step" + std::to_string(depth), {x}, {x});
    if (depth < 64) b.loop(Count::of(2), [&] { nest(depth + 1); });
  };
  b.loop(Count::of(2), [&] { nest(1); });
  Graph g = build_graph(b.job);  // walking each body twice would take 2^64 walks: it would never return
  std::set<EdgeKey> edges = edges_of(g);
  CHECK(edges.count({"step64", "step64", "x", "raw", true}));
  CHECK(edges.count({"step64", "step1", "x", "raw", true}));  // around the outermost loop
}

TEST_CASE("a scatter's chunks go to the gather that follows it") {
  JobBuilder b;
  auto in = b.dataset("in", Count::of(6));
  auto out = b.dataset("out", Count::of(4));
  b.transform("make", {}, {in});
  b.scatter("send", {in}, out);
  b.gather("merge", out);
  b.transform("report", {out}, {});
  std::set<EdgeKey> edges = edges_of(build_graph(b.job));
  CHECK(edges.count({"send", "merge", "out", "chunks", false}));
  CHECK(edges.count({"merge", "report", "out", "raw", false}));
  CHECK(errors_of(b.job).empty());
}

TEST_CASE("co-location groups join the datasets one transform touches") {
  JobBuilder b;
  auto data = b.dataset("data", Count::of(8));
  auto local = b.dataset("local", Count::of(8));
  auto grad = b.dataset("grad", Count::of(8));
  auto total = b.dataset("total", Count::of(1));
  auto other = b.dataset("other", Count::of(8));
  b.transform("gen", {}, {data});
  b.broadcast("share", total, local);
  b.transform("gradient", {data, local}, {grad});
  b.reduce("sum", grad, total);
  b.transform("lonely", {}, {other});
  Graph g = build_graph(b.job);
  REQUIRE(g.groups.size() == 3);
  CHECK(g.groups[0].datasets == std::vector<DatasetId>{data, local, grad});
  CHECK(g.groups[1].datasets == std::vector<DatasetId>{total});
  CHECK(g.groups[2].datasets == std::vector<DatasetId>{other});
  CHECK(g.group_of[grad] == 0);
  CHECK(g.groups[0].partitions == Count::of(8));
}

TEST_CASE("check: partition counts differ inside one transform") {
  JobBuilder b;
  auto a = b.dataset("a", Count::of(4));
  auto c = b.dataset("c", Count{std::nullopt, "partitions", "params.partitions"});
  b.transform("init", {}, {a, c});
  CHECK(mentions(errors_of(b.job), "partition counts differ in stage 'init'"));
}

TEST_CASE("check: a signal over a multi-partition dataset") {
  JobBuilder b;
  auto s = b.dataset("s", Count::of(3));
  b.transform("init", {}, {s});
  b.loop_while("more", s, [&] { b.transform("grow", {}, {s}); });
  CHECK(mentions(errors_of(b.job), "must have 1 partition"));
}

TEST_CASE("check: a dataset read before any stage writes it") {
  JobBuilder b;
  auto a = b.dataset("a", Count::of(2));
  auto c = b.dataset("c", Count::of(2));
  b.transform("use", {a}, {c});
  b.transform("make", {}, {a});
  CHECK(errors_of(b.job) ==
        std::vector<std::string>{"transform 'use' reads dataset 'a' before any stage writes it"});
}

TEST_CASE("check: scatter and gather must pair up in one block") {
  JobBuilder lone_gather;
  auto d = lone_gather.dataset("d", Count::of(2));
  lone_gather.gather("merge", d);
  CHECK(mentions(errors_of(lone_gather.job), "gather 'merge' has no scatter to 'd'"));

  JobBuilder lone_scatter;
  auto in = lone_scatter.dataset("in", Count::of(2));
  auto out = lone_scatter.dataset("out", Count::of(2));
  lone_scatter.transform("make", {}, {in});
  lone_scatter.scatter("send", {in}, out);
  CHECK(mentions(errors_of(lone_scatter.job), "no gather of it follows"));

  JobBuilder split;
  auto in2 = split.dataset("in", Count::of(2));
  auto out2 = split.dataset("out", Count::of(2));
  split.transform("make", {}, {in2});
  split.scatter("send", {in2}, out2);
  split.loop(Count::of(2), [&] { split.gather("merge", out2); });
  std::vector<std::string> errors = errors_of(split.job);
  CHECK(mentions(errors, "no gather of it follows"));
  CHECK(mentions(errors, "has no scatter"));
}

TEST_CASE("check: a stage writing one dataset twice, and duplicate names") {
  JobBuilder b;
  auto a = b.dataset("a", Count::of(2));
  b.dataset("a", Count::of(2));
  b.transform("init", {}, {a, a});
  b.transform("init", {a}, {});
  std::vector<std::string> errors = errors_of(b.job);
  CHECK(mentions(errors, "writes dataset 'a' twice"));
  CHECK(mentions(errors, "duplicate dataset name 'a'"));
  CHECK(mentions(errors, "duplicate stage name 'init'"));
}

TEST_CASE("warning: a dataset written but never read") {
  JobBuilder b;
  auto a = b.dataset("a", Count::of(2));
  b.dataset("unused", Count::of(2));
  b.transform("init", {}, {a});
  CollectingSink sink;
  CHECK(check_job(b.job, sink));
  REQUIRE(sink.entries.size() == 2);
  CHECK(sink.entries[0].severity == Severity::Warning);
  CHECK(sink.entries[0].message == "dataset 'a' is written but never read");
  CHECK(sink.entries[1].message == "dataset 'unused' is never used");
}

TEST_CASE("reduce and broadcast need a single-partition side") {
  JobBuilder b;
  auto many = b.dataset("many", Count::of(4));
  auto other = b.dataset("other", Count::of(4));
  b.transform("init", {}, {many});
  b.reduce("sum", many, other);
  b.broadcast("share", other, many);
  std::vector<std::string> errors = errors_of(b.job);
  CHECK(mentions(errors, "reduce 'sum': the reduction's result 'other' must have 1 partition"));
  CHECK(mentions(errors, "broadcast 'share': the broadcast's source 'other' must have 1 partition"));
}
