// The job model: what canaryc's front end extracts from a CANARY_JOB body,
// in program order, independent of Clang. Every later pass (checks, graph
// building, emitters, code generation) works on this model only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace canary::compiler {

// A position in the driver. `opaque` carries the front end's own encoding
// (a clang::SourceLocation) so diagnostics can show the source line.
struct SourceLoc {
  std::string file;
  unsigned line = 0;
  unsigned column = 0;
  std::uint64_t opaque = 0;
};

// A partition or loop count: a constant, an expression of job parameters,
// or (partitions only) canary::automatic.
struct Count {
  std::optional<long> constant;
  std::string expression;  // over parameter names, e.g. "partitions" or "2 * partitions"
  std::string cpp;         // the same in C++, over the job's parameter variable

  static Count of(long value) { return Count{value, std::to_string(value), std::to_string(value)}; }
  // canary::automatic: one symbol, equal only to itself. (No parameter
  // expression can be spelled with "::".)
  static Count automatic() { return Count{std::nullopt, "canary::automatic", "canary_automatic"}; }
  bool is_automatic() const { return !constant && expression == "canary::automatic"; }
  bool operator==(const Count& other) const {
    return constant ? other.constant == constant : !other.constant && other.expression == expression;
  }
  bool operator!=(const Count& other) const { return !(*this == other); }
};

enum class ParamType { Int, Long, Double, Bool, String };

struct Param {
  std::string name;
  ParamType type = ParamType::Int;
  std::string default_value;  // as C++ source: `8`, `1e-6`, `true`, `"x"`
  SourceLoc loc;
};

using DatasetId = int;
using StageId = int;
using BlockId = int;
constexpr int kNone = -1;

struct Dataset {
  DatasetId id = kNone;
  std::string name;
  std::string type;  // the element type, as C++
  Count partitions;
  SourceLoc loc;
};

enum class StageKind { Transform, Scatter, Gather, Broadcast, Reduce, Signal, Read, Write };

// A read or write stage's canary::files(...) argument (DESIGN.md section 4.1).
struct FilesArg {
  std::string param;             // the std::string job parameter it names, or
  std::string literal;           // the string literal it is
  std::string cpp;               // either, as C++ over the job's parameter variable
  std::size_t record_bytes = 0;  // canary::records(n); 0: text
};

enum class Branch { None, Then, Else };

struct Stage {
  StageId id = kNone;
  std::string name;
  StageKind kind = StageKind::Transform;
  std::vector<DatasetId> reads;
  std::vector<DatasetId> writes;
  DatasetId scatter_to = kNone;  // a scatter's destination dataset
  FilesArg files;                // read and write stages: the path
  Count partitions;              // how many tasks the stage runs
  BlockId block = kNone;         // the innermost enclosing block
  Branch branch = Branch::None;  // which arm of an `if_` block, if any
  SourceLoc loc;                 // the DSL call
  SourceLoc function_loc;        // the task (or signal, or reduce) function
  std::string function_text;     // its source: a lambda expression or a function's name
  SourceLoc combine_loc;         // a scatter's canary::combine function, if any
  std::string combine_text;      // its source; empty without one
};

enum class BlockKind { Loop, While, If };

// A statement of a block body: a stage or a nested block.
struct Node {
  enum class Kind { Stage, Block } kind;
  int id;
  bool operator==(const Node& o) const { return kind == o.kind && id == o.id; }
};

struct Block {
  BlockId id = kNone;
  BlockKind kind = BlockKind::Loop;
  Count count;             // loops: how many iterations
  StageId signal = kNone;  // while and if: the signal stage
  BlockId parent = kNone;
  std::vector<Node> body;  // loop and while bodies; an if's then-arm
  std::vector<Node> else_body;
  SourceLoc loc;
};

// A struct whose serialization (and JSON, for outputs) canaryc generates
// member by member, as canary::Fields<T> (DESIGN.md section 4).
struct Aggregate {
  std::string type;  // as C++ from the global scope, e.g. ::geo::Pair<int>
  struct Member {
    std::string name;           // for JSON
    std::string access;         // from a value `v`: v.name, or v.Base::name for a base's member
    std::string bitfield_type;  // a bit-field's type (it is passed by copy), else empty
  };
  std::vector<Member> members;  // its bases' first, in declaration order
  bool packed = false;          // trivially copyable without padding: its bytes are its value
};

struct Job {
  std::string name;
  std::string source;
  std::string params_type;
  std::string params_variable;
  std::vector<Param> params;
  std::vector<Dataset> datasets;
  std::vector<Stage> stages;
  std::vector<Block> blocks;
  std::vector<Node> body;             // top level, in program order
  std::vector<Aggregate> aggregates;  // those datasets and outputs use, in no particular order
};

const char* to_string(StageKind kind);
const char* to_string(BlockKind kind);
const char* to_string(ParamType type);

}  // namespace canary::compiler
