#include <sstream>

#include "emit.h"
#include "quote.h"

namespace canary::compiler {
namespace {

class DotWriter {
 public:
  explicit DotWriter(const Graph& g) : g_(g) {}

  std::string run() {
    out_ << "digraph " << quoted(g_.job.name) << " {\n"
         << "  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
         << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
    nodes(g_.job.body, "  ");
    for (const Edge& e : g_.edges) {
      out_ << "  s" << e.from << " -> s" << e.to
           << " [label=" << quoted(g_.job.datasets[e.dataset].name + " (" + to_string(e.kind) + ")");
      if (e.crosses != kNone) out_ << ", style=dashed, constraint=false";
      if (e.kind == EdgeKind::Chunks) out_ << ", penwidth=2";
      out_ << "];\n";
    }
    out_ << "}\n";
    return out_.str();
  }

 private:
  void nodes(const std::vector<Node>& body, const std::string& indent) {
    for (const Node& n : body) {
      if (n.kind == Node::Kind::Stage) {
        stage(g_.job.stages[n.id], indent);
      } else {
        block(g_.job.blocks[n.id], indent);
      }
    }
  }

  void stage(const Stage& s, const std::string& indent) {
    bool files = s.kind == StageKind::Read || s.kind == StageKind::Write;
    std::string path = s.files.param.empty() ? quoted(s.files.literal) : "--" + s.files.param;
    out_ << indent << "s" << s.id
         << " [label=" << quoted(s.name + "\\n" + to_string(s.kind) + (files ? " " + path : ""))
         << (s.kind == StageKind::Signal ? ", shape=diamond"
             : files                     ? ", shape=note"
                                         : "")
         << (s.kind == StageKind::Transform ? "" : ", style=\"rounded,filled\", fillcolor=\"#eeeeee\"")
         << "];\n";
  }

  void block(const Block& b, const std::string& indent) {
    std::string label = to_string(b.kind);
    if (b.kind == BlockKind::Loop) label += " x " + b.count.expression;
    if (b.signal != kNone) label += " " + g_.job.stages[b.signal].name;
    out_ << indent << "subgraph cluster_b" << b.id << " {\n"
         << indent << "  label=" << quoted(label) << "; style=dashed;\n";
    if (b.signal != kNone) stage(g_.job.stages[b.signal], indent + "  ");
    if (b.kind == BlockKind::If) {
      arm(b, "then", b.body, indent + "  ");
      arm(b, "else", b.else_body, indent + "  ");
    } else {
      nodes(b.body, indent + "  ");
    }
    out_ << indent << "}\n";
  }

  void arm(const Block& b, const char* name, const std::vector<Node>& body, const std::string& indent) {
    if (body.empty()) return;
    out_ << indent << "subgraph cluster_b" << b.id << "_" << name << " {\n"
         << indent << "  label=" << quoted(name) << "; style=dotted;\n";
    nodes(body, indent + "  ");
    out_ << indent << "}\n";
  }

  const Graph& g_;
  std::ostringstream out_;
};

}  // namespace

std::string graph_to_dot(const Graph& g) { return DotWriter(g).run(); }

}  // namespace canary::compiler
