// <canary/dsl.h>: the language a Canary driver is written in.
//
// A driver is one CANARY_JOB whose body declares partitioned datasets and the
// stages over them, in program order. canaryc reads that body statically: it
// checks it, derives the stage graph and its placement constraints, and
// generates the task code every worker runs. The names and call shapes below
// are the contract of DESIGN.md section 4; see docs/dsl.md for the rules.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "canary/serialize.h"

namespace canary {

namespace detail {
// Where t.output() values go; the runtime implements it.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void add(int stage, int index, const std::string& key, std::string json) = 0;
};
// Where a scatter task's chunks go: one buffer of serialized values per
// destination partition. The runtime implements it.
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // Returns the buffer for `destination`, or null when it is out of range.
  virtual std::string* buffer(int destination) = 0;
  virtual void sent(int destination) = 0;
};
}  // namespace detail

// What a running task knows about itself. Only task functions receive one.
class Task {
 public:
  Task(int stage, int index, int partitions, int iteration, std::uint64_t seed, detail::OutputSink* outputs)
      : stage_(stage),
        index_(index),
        partitions_(partitions),
        iteration_(iteration),
        seed_(seed),
        outputs_(outputs) {}
  // The partition this task works on, and how many the stage has.
  int index() const { return index_; }
  int partitions() const { return partitions_; }
  // The iteration of the innermost enclosing loop, from 0 (0 outside loops).
  int iteration() const { return iteration_; }
  // Depends only on the stage, the partition and the loop iterations.
  std::uint64_t seed() const { return seed_; }
  // Returns a value to the user: printed by the controller and written to the
  // results file. Arithmetic types, std::string, and vectors/arrays of them.
  template <class V>
  void output(const std::string& key, const V& value) {
    std::string json;
    detail::append_json(json, value);
    outputs_->add(stage_, index_, key, std::move(json));
  }

 private:
  int stage_;
  int index_;
  int partitions_;
  int iteration_;
  std::uint64_t seed_;
  detail::OutputSink* outputs_;
};

// A partitioned dataset: `partitions` pieces of type T spread over workers.
// In the driver it is only a name for canaryc; workers hold the partitions.
template <class T>
class Dataset {
 public:
  using element_type = T;
  Dataset(const char* name, int partitions) : name_(name), partitions_(partitions) {}
  const char* name() const { return name_; }
  int partitions() const { return partitions_; }

 private:
  const char* name_;
  int partitions_;
};

template <class T>
Dataset<T> dataset(const char* name, int partitions) {
  return Dataset<T>(name, partitions);
}

// The dataset lists of a stage: what it reads, what it writes, and where a
// scatter sends its chunks.
template <class... T>
struct Reads {};
template <class... T>
struct Writes {};
template <class T>
struct To {};

template <class... T>
Reads<T...> reads(const Dataset<T>&...) {
  return {};
}
template <class... T>
Writes<T...> writes(const Dataset<T>&...) {
  return {};
}
template <class T>
To<T> to(const Dataset<T>&) {
  return {};
}

// What a scatter task sends: out.send(destination partition, value).
template <class T>
class Emit {
 public:
  explicit Emit(detail::ChunkSink* sink) : sink_(sink) {}
  void send(int destination, const T& value) {
    std::string* buffer = sink_->buffer(destination);
    if (!buffer)
      throw std::out_of_range("canary: send to partition " + std::to_string(destination) +
                              ", which does not exist");
    Writer w(*buffer);
    canary::write(w, value);
    sink_->sent(destination);
  }

 private:
  detail::ChunkSink* sink_;
};

// What a gather task receives: the chunks addressed to its partition, in the
// order of the sending partition's index, then of sending.
template <class T>
class Chunks {
 public:
  explicit Chunks(std::vector<T> chunks) : chunks_(std::move(chunks)) {}
  auto begin() const { return chunks_.begin(); }
  auto end() const { return chunks_.end(); }
  std::size_t size() const { return chunks_.size(); }
  bool empty() const { return chunks_.empty(); }
  const T& operator[](std::size_t i) const { return chunks_[i]; }

 private:
  std::vector<T> chunks_;
};

// canaryc parses drivers with CANARY_ANALYSIS defined and checks task
// function signatures itself, reporting them at the driver's line; the code it
// generates (CANARY_GENERATED) calls every function with its real arguments.
// Elsewhere, compiling a driver checks the shapes here.
#if defined(CANARY_ANALYSIS) || defined(CANARY_GENERATED)
#define CANARY_DETAIL_REQUIRE(...)
#else
#define CANARY_DETAIL_REQUIRE(...) static_assert(__VA_ARGS__)
#endif

namespace detail {
// The shapes task functions are called with. Stages are type-checked here so
// that a mismatched lambda is an error at the driver's call.
template <class F, class R, class W>
struct TransformCallable;
template <class F, class... R, class... W>
struct TransformCallable<F, Reads<R...>, Writes<W...>> : std::is_invocable<F&, Task&, const R&..., W&...> {};

template <class F, class R, class T>
struct ScatterCallable;
template <class F, class... R, class T>
struct ScatterCallable<F, Reads<R...>, T> : std::is_invocable<F&, Task&, const R&..., Emit<T>&> {};

template <class F, class S>
using SignalCallable = std::is_invocable_r<bool, F&, const S&>;
}  // namespace detail

// The job body only describes the program: canaryc reads it, and the job
// binary runs the stage functions it generated from it. Calling these
// functions does nothing at run time; they check the functions' shapes.

// One task per partition: task i reads partition i of every `reads` dataset
// and updates partition i of every `writes` dataset in place.
template <class... R, class... W, class F>
void transform(const char*, Reads<R...>, Writes<W...>, F) {
  CANARY_DETAIL_REQUIRE(detail::TransformCallable<F, Reads<R...>, Writes<W...>>::value,
                        "a transform function takes (canary::Task&, const R&... reads, W&... writes)");
}
template <class... R, class F>
void transform(const char* name, Reads<R...> r, F fn) {
  transform(name, r, Writes<>{}, std::move(fn));
}
template <class... W, class F>
void transform(const char* name, Writes<W...> w, F fn) {
  transform(name, Reads<>{}, w, std::move(fn));
}

// One task per partition of the read datasets; each sends chunks to any
// partitions of `to`'s dataset, which the matching gather merges.
template <class... R, class T, class F>
void scatter(const char*, Reads<R...>, To<T>, F) {
  CANARY_DETAIL_REQUIRE(detail::ScatterCallable<F, Reads<R...>, T>::value,
                        "a scatter function takes (canary::Task&, const R&... reads, canary::Emit<T>&)");
}

// One task per partition of `d`: merges the chunks the last scatter to `d`
// addressed to it into its partition.
template <class T, class F>
void gather(const char*, Dataset<T>, F) {
  CANARY_DETAIL_REQUIRE(std::is_invocable_v<F&, Task&, Chunks<T>&, T&>,
                        "a gather function takes (canary::Task&, canary::Chunks<T>&, T&)");
}

// Copies the one partition of `single` to every partition of `many`.
template <class T>
void broadcast(const char*, Dataset<T> /*single*/, Dataset<T> /*many*/) {}

// Folds every partition of `many`, in partition order, into the one partition
// of `single`: acc starts value-initialised, then fn(acc, many[i]) for each i.
template <class T, class F>
void reduce(const char*, Dataset<T> /*many*/, Dataset<T> /*single*/, F) {
  CANARY_DETAIL_REQUIRE(std::is_invocable_v<F&, T&, const T&>,
                        "a reduce function takes (T& acc, const T& x)");
}

// Runs `body` `count` times on every worker.
template <class Body>
void loop(int /*count*/, Body) {}

// Runs `body` while `predicate(s)` holds. The predicate is a signal: it runs
// where the single partition of `s` lives, and every worker learns its value.
template <class S, class Pred, class Body>
void loop_while(const char*, Reads<S>, Pred, Body) {
  CANARY_DETAIL_REQUIRE(detail::SignalCallable<Pred, S>::value,
                        "a signal function takes (const S&) and returns bool");
}

// Runs `then_body` if `predicate(s)` holds, else `else_body`; the predicate is
// a signal, as for loop_while.
template <class S, class Pred, class Then, class Else>
void if_(const char*, Reads<S>, Pred, Then, Else) {
  CANARY_DETAIL_REQUIRE(detail::SignalCallable<Pred, S>::value,
                        "a signal function takes (const S&) and returns bool");
}
template <class S, class Pred, class Then>
void if_(const char* name, Reads<S> s, Pred predicate, Then then_body) {
  if_(name, s, std::move(predicate), std::move(then_body), [] {});
}

}  // namespace canary

// Declares the job. `param` is the job's parameter struct, e.g. `Params params`:
// every field becomes a --field=value flag of the job binary.
#if defined(__clang__)
#define CANARY_DETAIL_JOB_ATTRIBUTE(name) [[clang::annotate("canary.job:" #name)]]
#else
#define CANARY_DETAIL_JOB_ATTRIBUTE(name)
#endif
#define CANARY_JOB(name, param) CANARY_DETAIL_JOB_ATTRIBUTE(name) void canary_job_##name(param)
