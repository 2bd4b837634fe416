// <canary/dsl.h>: the language a Canary driver is written in.
//
// A driver is one CANARY_JOB whose body declares partitioned datasets and the
// stages over them, in program order. canaryc reads that body statically: it
// checks it, derives the stage graph and its placement constraints, and
// generates the task code every worker runs. The names and call shapes below
// are the contract of DESIGN.md section 4; see docs/dsl.md for the rules.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "canary/serialize.h"

namespace canary {

// What a running task knows about itself. Only task functions receive one.
class Task {
 public:
  virtual ~Task() = default;
  // The partition this task works on, and how many the stage has.
  virtual int index() const = 0;
  virtual int partitions() const = 0;
  // The iteration of the innermost enclosing loop, from 0 (0 outside loops).
  virtual int iteration() const = 0;
  // Depends only on the stage, the partition and the loop iterations.
  virtual std::uint64_t seed() const = 0;
  // Returns a value to the user: printed by the controller and written to the
  // results file. Arithmetic types, std::string, and vectors/arrays of them.
  template <class V>
  void output(const std::string& key, const V& value) {
    std::string json;
    detail::append_json(json, value);
    emit_output(key, std::move(json));
  }

 protected:
  virtual void emit_output(const std::string& key, std::string json) = 0;
};

namespace detail {
// The runtime side of the DSL: while a job body runs, its DSL calls are
// reported to the active recorder, which binds them to canaryc's static
// tables. Declared here, defined by libcanary.
class Recorder;
Recorder& active_recorder();
int record_dataset(Recorder& recorder, const char* name, int partitions);
}  // namespace detail

// A partitioned dataset: `partitions` pieces of type T spread over workers.
template <class T>
class Dataset {
 public:
  using element_type = T;
  int id() const { return id_; }

 private:
  template <class U>
  friend Dataset<U> dataset(const char* name, int partitions);
  explicit Dataset(int id) : id_(id) {}
  int id_;
};

template <class T>
Dataset<T> dataset(const char* name, int partitions) {
  return Dataset<T>(detail::record_dataset(detail::active_recorder(), name, partitions));
}

// The dataset lists of a stage: what it reads, what it writes, and where a
// scatter sends its chunks.
template <class... T>
struct Reads {
  std::tuple<Dataset<T>...> datasets;
};
template <class... T>
struct Writes {
  std::tuple<Dataset<T>...> datasets;
};
template <class T>
struct To {
  Dataset<T> dataset;
};

template <class... T>
Reads<T...> reads(const Dataset<T>&... d) {
  return Reads<T...>{std::tuple<Dataset<T>...>(d...)};
}
template <class... T>
Writes<T...> writes(const Dataset<T>&... d) {
  return Writes<T...>{std::tuple<Dataset<T>...>(d...)};
}
template <class T>
To<T> to(const Dataset<T>& d) {
  return To<T>{d};
}

// What a scatter task sends: out.send(destination partition, value).
template <class T>
class Emit {
 public:
  virtual ~Emit() = default;
  virtual void send(int destination, const T& value) = 0;
};

// What a gather task receives: the chunks addressed to its partition, in the
// order of the sending partition's index, then of sending.
template <class T>
class Chunks {
 public:
  explicit Chunks(const std::vector<T>* chunks) : chunks_(chunks) {}
  auto begin() const { return chunks_->begin(); }
  auto end() const { return chunks_->end(); }
  std::size_t size() const { return chunks_->size(); }
  bool empty() const { return chunks_->empty(); }
  const T& operator[](std::size_t i) const { return (*chunks_)[i]; }

 private:
  const std::vector<T>* chunks_;
};

// canaryc parses drivers with CANARY_ANALYSIS defined and checks task
// function signatures itself, reporting them at the driver's line.
#if defined(CANARY_ANALYSIS)
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

void record_transform(Recorder& recorder, const char* name, const std::vector<int>& reads,
                      const std::vector<int>& writes);
void record_scatter(Recorder& recorder, const char* name, const std::vector<int>& reads, int to);
void record_gather(Recorder& recorder, const char* name, int dataset);
void record_broadcast(Recorder& recorder, const char* name, int single, int many);
void record_reduce(Recorder& recorder, const char* name, int many, int single);

template <class... T>
std::vector<int> ids(const std::tuple<Dataset<T>...>& datasets) {
  return std::apply([](const auto&... d) { return std::vector<int>{d.id()...}; }, datasets);
}
}  // namespace detail

// One task per partition: task i reads partition i of every `reads` dataset
// and updates partition i of every `writes` dataset in place.
template <class... R, class... W, class F>
void transform(const char* name, Reads<R...> r, Writes<W...> w, F fn) {
  CANARY_DETAIL_REQUIRE(detail::TransformCallable<F, Reads<R...>, Writes<W...>>::value,
                        "a transform function takes (canary::Task&, const R&... reads, W&... writes)");
  (void)fn;
  detail::record_transform(detail::active_recorder(), name, detail::ids(r.datasets), detail::ids(w.datasets));
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
void scatter(const char* name, Reads<R...> r, To<T> to, F fn) {
  CANARY_DETAIL_REQUIRE(detail::ScatterCallable<F, Reads<R...>, T>::value,
                        "a scatter function takes (canary::Task&, const R&... reads, canary::Emit<T>&)");
  (void)fn;
  detail::record_scatter(detail::active_recorder(), name, detail::ids(r.datasets), to.dataset.id());
}

// One task per partition of `d`: merges the chunks the last scatter to `d`
// addressed to it into its partition.
template <class T, class F>
void gather(const char* name, Dataset<T> d, F fn) {
  CANARY_DETAIL_REQUIRE(std::is_invocable_v<F&, Task&, Chunks<T>&, T&>,
                        "a gather function takes (canary::Task&, canary::Chunks<T>&, T&)");
  (void)fn;
  detail::record_gather(detail::active_recorder(), name, d.id());
}

// Copies the one partition of `single` to every partition of `many`.
template <class T>
void broadcast(const char* name, Dataset<T> single, Dataset<T> many) {
  detail::record_broadcast(detail::active_recorder(), name, single.id(), many.id());
}

// Folds every partition of `many`, in partition order, into the one partition
// of `single`: acc starts value-initialised, then fn(acc, many[i]) for each i.
template <class T, class F>
void reduce(const char* name, Dataset<T> many, Dataset<T> single, F fn) {
  CANARY_DETAIL_REQUIRE(std::is_invocable_v<F&, T&, const T&>,
                        "a reduce function takes (T& acc, const T& x)");
  (void)fn;
  detail::record_reduce(detail::active_recorder(), name, many.id(), single.id());
}

namespace detail {
void record_loop_begin(Recorder& recorder, int count);
void record_while_begin(Recorder& recorder, const char* name, int signal_dataset);
void record_if_begin(Recorder& recorder, const char* name, int signal_dataset);
void record_else(Recorder& recorder);
void record_block_end(Recorder& recorder);
}  // namespace detail

// Runs `body` `count` times on every worker.
template <class Body>
void loop(int count, Body body) {
  detail::record_loop_begin(detail::active_recorder(), count);
  body();
  detail::record_block_end(detail::active_recorder());
}

// Runs `body` while `predicate(s)` holds. The predicate is a signal: it runs
// where the single partition of `s` lives, and every worker learns its value.
template <class S, class Pred, class Body>
void loop_while(const char* name, Reads<S> s, Pred predicate, Body body) {
  CANARY_DETAIL_REQUIRE(detail::SignalCallable<Pred, S>::value,
                        "a signal function takes (const S&) and returns bool");
  (void)predicate;
  detail::record_while_begin(detail::active_recorder(), name, std::get<0>(s.datasets).id());
  body();
  detail::record_block_end(detail::active_recorder());
}

// Runs `then_body` if `predicate(s)` holds, else `else_body`; the predicate is
// a signal, as for loop_while.
template <class S, class Pred, class Then, class Else>
void if_(const char* name, Reads<S> s, Pred predicate, Then then_body, Else else_body) {
  CANARY_DETAIL_REQUIRE(detail::SignalCallable<Pred, S>::value,
                        "a signal function takes (const S&) and returns bool");
  (void)predicate;
  detail::record_if_begin(detail::active_recorder(), name, std::get<0>(s.datasets).id());
  then_body();
  detail::record_else(detail::active_recorder());
  else_body();
  detail::record_block_end(detail::active_recorder());
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
