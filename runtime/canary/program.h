// <canary/program.h>: the static tables canaryc generates for a job, which
// libcanary executes. Generated code (OUT.tasks.cpp) fills a Program and calls
// job_main(); nothing here is for drivers to use directly.
#pragma once

#include <canary/dsl.h>
#include <canary/serialize.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace canary::rt {

// Serialized bytes in one piece or several (as they arrived), read in
// order as one; with what keeps each piece alive, when known.
struct Pieces {
  const std::string_view* first;
  std::size_t count;
  const std::shared_ptr<const void>* keepers = nullptr;  // count of them, or null
};

// How the runtime creates, copies over the wire and destroys the partitions
// of one dataset without knowing their type.
struct TypeOps {
  void* (*create)();
  void (*destroy)(void*);
  void (*write)(const void* value, std::string& out);
  // Replaces *value with the one serialized in `bytes`; throws on malformed input.
  void (*read)(Pieces bytes, void* value);
};

template <class T>
const TypeOps* type_ops() {
  static const TypeOps ops{
      []() -> void* { return new T{}; },
      [](void* p) { delete static_cast<T*>(p); },
      [](const void* p, std::string& out) {
        Writer w(out);
        canary::write(w, *static_cast<const T*>(p));
      },
      [](Pieces bytes, void* p) {
        Reader r(bytes.first, bytes.count);
        T value{};
        canary::read(r, value);
        *static_cast<T*>(p) = std::move(value);
      },
  };
  return &ops;
}

// The values in each buffer, buffers in order: how gathers see the chunks
// sent to them, and reductions their inputs. A vector a task on this worker
// moved into Emit::send arrives as its own piece, kept by a
// detail::MovedValue: it is used where it is. Every other value is
// deserialized.
template <class T>
Chunks<T> read_chunks(const std::vector<Pieces>& buffers) {
  Chunks<T> chunks;
  for (Pieces b : buffers) {
    std::vector<std::shared_ptr<const T>> moved;  // in the order of the pieces
    if constexpr (detail::serializes_as_one_run<T>::value)
      for (std::size_t i = 0; b.keepers && i < b.count; ++i)
        if (std::get_deleter<detail::MovedValue<T>>(b.keepers[i]))
          moved.push_back(std::static_pointer_cast<const T>(b.keepers[i]));
    Reader r(b.first, b.count);
    std::size_t next_moved = 0;
    while (r.remaining() > 0) {
      if constexpr (detail::serializes_as_one_run<T>::value) {
        if (next_moved < moved.size()) {
          using Element = typename T::value_type;
          const T& run = *moved[next_moved];
          Reader ahead = r;
          std::size_t n = ahead.length(sizeof(Element));
          if (n == run.size() && ahead.position() == reinterpret_cast<const char*>(run.data())) {
            ahead.skip(n * sizeof(Element));
            r = ahead;
            chunks.share(moved[next_moved++]);
            continue;
          }
        }
      }
      T value{};
      canary::read(r, value);
      chunks.hold(std::move(value));
    }
  }
  return chunks;
}

// t.seed(): a function of the stage's name, the partition index and the
// iterations of the enclosing loops (outermost first), nothing else, so a run
// is reproducible whatever the placement.
inline std::uint64_t stage_name_hash(const std::string& stage) { return detail::fnv1a64(stage); }
inline std::uint64_t task_seed(std::uint64_t stage_hash, int index, const std::vector<int>& iterations) {
  std::uint64_t seed = detail::mix64(stage_hash ^ detail::mix64(static_cast<std::uint64_t>(index)));
  for (int it : iterations) seed = detail::mix64(seed ^ static_cast<std::uint64_t>(it));
  return seed;
}
inline std::uint64_t task_seed(const std::string& stage, int index, const std::vector<int>& iterations) {
  return task_seed(stage_name_hash(stage), index, iterations);
}

// The most partitions a dataset may have: a job asking for more is refused
// before it starts (every worker keeps per-partition state for the whole map).
constexpr int kMaxPartitions = 1 << 20;
// The most times a canary::loop may run: the runtime counts iterations in ints.
constexpr long long kMaxLoopCount = std::numeric_limits<int>::max();

// What a count comes to when its expression divides by zero or overflows.
constexpr long long kUncountable = std::numeric_limits<long long>::min();

// A count while the generated evaluate_counts computes it from the job's
// parameters: + - * / % in 64 bits, where a division by zero or an overflow
// gives kUncountable instead of undefined behaviour (SIGFPE, say), so that
// check_counts refuses the parameters in one line before any task runs.
class CountValue {
 public:
  // Implicit, so that `CountValue(params.n) * 2` reads like the driver's own.
  constexpr CountValue(long long v) : v_(v) {}  // NOLINT(google-explicit-constructor)
  constexpr long long value() const { return v_; }

  friend CountValue operator+(CountValue a, CountValue b) {
    long long r = 0;
    return either_uncountable(a, b) || __builtin_add_overflow(a.v_, b.v_, &r) ? kUncountable : r;
  }
  friend CountValue operator-(CountValue a, CountValue b) {
    long long r = 0;
    return either_uncountable(a, b) || __builtin_sub_overflow(a.v_, b.v_, &r) ? kUncountable : r;
  }
  friend CountValue operator*(CountValue a, CountValue b) {
    long long r = 0;
    return either_uncountable(a, b) || __builtin_mul_overflow(a.v_, b.v_, &r) ? kUncountable : r;
  }
  friend CountValue operator/(CountValue a, CountValue b) {
    return divides_badly(a, b) ? kUncountable : a.v_ / b.v_;
  }
  friend CountValue operator%(CountValue a, CountValue b) {
    return divides_badly(a, b) ? kUncountable : a.v_ % b.v_;
  }

 private:
  static bool either_uncountable(CountValue a, CountValue b) {
    return a.v_ == kUncountable || b.v_ == kUncountable;
  }
  // LLONG_MIN / -1 overflows too, but LLONG_MIN is kUncountable already.
  static bool divides_badly(CountValue a, CountValue b) { return either_uncountable(a, b) || b.v_ == 0; }

  long long v_;
};

enum class StageKind { Transform, Scatter, Gather, Broadcast, Reduce, Signal, Read, Write };
enum class BlockKind { Loop, While, If };

// What a generated stage function works with.
struct TaskArgs {
  Task& task;
  void* const* partitions;                  // the stage's reads, then its writes
  detail::ChunkSink* chunks_out = nullptr;  // scatter: where sends go
  std::vector<Pieces> chunks_in = {};       // gather, reduce: one buffer per sender, in order
  bool signal = false;                      // signal: the predicate's value
  std::uint64_t seq = 0;                    // the stage instance: write stages name files by it

  template <class T>
  const T& in(int i) const {
    return *static_cast<const T*>(partitions[i]);
  }
  template <class T>
  T& out(int i) const {
    return *static_cast<T*>(partitions[i]);
  }
};
using StageFunction = void (*)(TaskArgs&);

// What the generated read and write stages call (io/files.cpp). The task's
// split of the input at `path`; throws canary::InputError when the files
// cannot be read.
canary::Split open_split(const std::string& path, std::size_t record_bytes, const Task& task);
// Partition `index`'s part file of instance `seq` of a write stage to `dir`.
class PartFile : public canary::detail::ByteSink {
 public:
  // Renames the file into DIR/_temporary/ (commit protocol, step 2, in
  // io/files.h); a part file never closed is removed.
  virtual void close() = 0;
};
std::unique_ptr<PartFile> open_part(const std::string& dir, int index, std::uint64_t seq);

// A stage's function object, made from the job's parameters once per run.
// Closures cannot be assigned, hence the placement; and this instantiates a
// small fraction of what std::optional does, which decides how long a job of
// thousands of stages takes to compile.
template <class F>
class BoundStage {
 public:
  BoundStage() = default;
  BoundStage(const BoundStage&) = delete;
  BoundStage& operator=(const BoundStage&) = delete;
  ~BoundStage() { reset(); }
  void bind(F f) {
    reset();
    new (storage_) F(std::move(f));
    bound_ = true;
  }
  F& operator*() { return *std::launder(reinterpret_cast<F*>(storage_)); }

 private:
  void reset() {
    if (bound_) (**this).~F();
    bound_ = false;
  }
  alignas(F) unsigned char storage_[sizeof(F)];
  bool bound_ = false;
};

struct DatasetInfo {
  std::string name;
  const TypeOps* ops;
  bool automatic;  // its count is canary::automatic
};

struct StageInfo {
  std::string name;
  StageKind kind;
  std::vector<int> reads;
  std::vector<int> writes;
  int to;                  // scatter: the destination dataset, else -1
  StageFunction run;       // null for broadcast, which needs no user code
  bool partitions_is_one;  // its partition count is the constant 1: outputs are scalars, not lists
  // Which datasets its tasks touch, by the role they play (canaryc decides):
  // the "main" tasks, one per partition, touch partition i of main_touches;
  // a reduce's combine, a broadcast's send and a signal's evaluation are a
  // single task on partition 0 of single_touches. Of those, the *_writes
  // may change.
  std::vector<int> main_touches, single_touches, main_writes, single_writes;

  // The dataset whose partition count is the main tasks' (-1: none).
  int main_partitions_of() const { return main_touches.empty() ? -1 : main_touches.front(); }
  bool has_single() const { return !single_touches.empty(); }
};

struct Node {
  bool is_block;
  int id;
};

struct BlockInfo {
  BlockKind kind;
  int parent;  // -1 at the top level
  int signal;  // while and if: the signal stage, else -1
  std::vector<Node> body;
  std::vector<Node> else_body;
};

// A read or write stage's path, as the parameters make it.
struct StageFiles {
  int stage;
  std::string path;
  std::size_t record_bytes;  // read: canary::records(n); 0: text
};

// The job's parameter struct, behind a type-erased interface, and what the
// parameters decide: generated functions.
struct ParamFunctions {
  void* (*new_params)();
  void (*delete_params)(void*);
  // Sets one field from its flag's text; false with `error` set when the
  // value is malformed, or with `error` empty when there is no such field.
  bool (*set_param)(void* params, const std::string& name, const std::string& value, std::string& error);
  // Evaluates every dataset's partition count and every loop block's count,
  // in the parameters' own range (a long parameter may hold 2^32 + 4):
  // check_counts refuses what an int cannot hold before the job starts.
  void (*evaluate_counts)(const void* params, std::vector<long long>& dataset_partitions,
                          std::vector<long long>& loop_counts);
  // Builds the stage functions' closures from the parameters, once per run.
  void (*bind)(const void* params);
  // The paths of the read and write stages (DESIGN.md section 4.1).
  void (*evaluate_files)(const void* params, std::vector<StageFiles>& files) = nullptr;
};

struct Program : ParamFunctions {
  std::string job;
  std::string graph_json;  // the canary-graph/1 document, for --graph and --help
  std::vector<DatasetInfo> datasets;
  std::vector<StageInfo> stages;
  std::vector<BlockInfo> blocks;
  std::vector<Node> body;
  std::vector<int> group_of;  // per dataset: its co-location group

  // evaluate_counts, as ints: for parameters check_counts has admitted.
  void counts(const void* params, std::vector<int>& dataset_partitions, std::vector<int>& loop_counts) const {
    std::vector<long long> partitions, loops;
    evaluate_counts(params, partitions, loops);
    dataset_partitions.assign(partitions.begin(), partitions.end());
    loop_counts.assign(loops.begin(), loops.end());
  }
};

// The tables canaryc generates, as constant data: a job of thousands of
// stages compiles in seconds because there is no code per entry, only rows.
// make_program() turns them into the Program the runtime runs.
struct DatasetRow {
  const char* name;
  const TypeOps* (*ops)();
  int group;  // its co-location group
  bool automatic;
};
struct StageRow {
  const char* name;
  StageKind kind;
  // Where its reads, writes, main_touches, single_touches, main_writes and
  // single_writes start, one after another, in ProgramTables::stage_datasets,
  // and how many of each.
  int datasets;
  int reads, writes, main_touches, single_touches, main_writes, single_writes;
  int to;
  StageFunction run;
  bool partitions_is_one;
};
struct BlockRow {
  BlockKind kind;
  int parent;
  int signal;
  int body, body_size;  // where its nodes start in ProgramTables::nodes, and how many
  int else_body, else_size;
};
template <class Row>
struct Rows {
  const Row* rows = nullptr;
  int size = 0;
  const Row* begin() const { return rows; }
  const Row* end() const { return rows + size; }
};
struct ProgramTables {
  const char* job;
  const char* graph_json;
  Rows<DatasetRow> datasets;
  Rows<StageRow> stages;
  Rows<int> stage_datasets;
  Rows<BlockRow> blocks;
  Rows<Node> nodes;  // every node list, one after another
  int body, body_size;
  ParamFunctions functions;
};
Program make_program(const ProgramTables& tables);

// Parses one parameter value; used by the generated set_param.
bool parse_value(const std::string& text, int& out, std::string& error);
bool parse_value(const std::string& text, long& out, std::string& error);
bool parse_value(const std::string& text, double& out, std::string& error);
bool parse_value(const std::string& text, bool& out, std::string& error);
bool parse_value(const std::string& text, std::string& out, std::string& error);

// The count of canary::automatic datasets travels with the parameters, under
// this name, from the process that chose it (or --partitions-for-automatic)
// to every worker; evaluate_counts gives 0 for them until it is set.
constexpr const char* kAutomaticParam = "partitions-for-automatic";
// A partition count from 1 to kMaxPartitions.
bool parse_partitions(const std::string& text, int& out, std::string& error);
// Sets one parameter from "name=value", the form Start and a run's record
// carry them in; false with `error` saying why.
bool set_param_from(const Program& program, void* params, const std::string& assignment, std::string& error);

// The job binary's main: flags, then the run. Returns the process exit code.
int job_main(const Program& program, int argc, char** argv);

}  // namespace canary::rt
