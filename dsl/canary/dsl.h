// <canary/dsl.h>: the language a Canary driver is written in.
//
// A driver is one CANARY_JOB whose body declares partitioned datasets and the
// stages over them, in program order. canaryc reads that body statically: it
// checks it, derives the stage graph and its placement constraints, and
// generates the task code every worker runs. The names and call shapes below
// are the contract of DESIGN.md section 4; see docs/dsl.md for the rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "canary/files.h"
#include "canary/serialize.h"

namespace canary {

namespace detail {
// What a task reaches beyond its own fields; the runtime implements it.
class TaskHost {
 public:
  virtual ~TaskHost() = default;
  // Where t.output() values go.
  virtual void add(int stage, int index, const std::string& key, std::string json) = 0;
  // t.seed(), computed only when a task asks: most never do.
  virtual std::uint64_t seed(int index) const = 0;
};
// Where a scatter task's chunks go: one buffer of serialized values per
// destination partition. The runtime implements it.
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // Returns the buffer for `destination`, or null when it is out of range.
  virtual std::string* buffer(int destination) = 0;
  // Appends `size` bytes at `data` to what `destination`'s buffer holds,
  // without copying them: `keeper` keeps them alive.
  virtual void attach(int destination, std::shared_ptr<const void> keeper, const char* data,
                      std::size_t size) = 0;
  virtual void sent(int destination) = 0;
};

// A chunk moved into Emit::send whose bytes are one run (a vector of plain
// values) and at least this large is not copied: its vector travels.
constexpr std::size_t kAttachBytes = std::size_t{64} << 10;
// The owner of such a vector. Its type marks the run's keeper
// (std::get_deleter), so a gather on the same worker reads the vector where
// it is instead of copying it out of its bytes.
template <class T>
struct MovedValue {
  void operator()(const T* value) const { delete value; }
};
template <class T, class = void>
struct serializes_as_one_run : std::false_type {};
template <class T>
struct serializes_as_one_run<T, std::void_t<decltype(Serializer<T>::kContiguous)>>
    : std::bool_constant<Serializer<T>::kContiguous> {};
}  // namespace detail

// What a running task knows about itself. Only task functions receive one.
class Task {
 public:
  Task(int stage, int index, int partitions, int iteration, detail::TaskHost* host)
      : stage_(stage), index_(index), partitions_(partitions), iteration_(iteration), host_(host) {}
  // The partition this task works on, and how many the stage has.
  int index() const { return index_; }
  int partitions() const { return partitions_; }
  // The iteration of the innermost enclosing loop, from 0 (0 outside loops).
  int iteration() const { return iteration_; }
  // Depends only on the stage, the partition and the loop iterations.
  std::uint64_t seed() const { return host_->seed(index_); }
  // Returns a value to the user: printed by the controller and written to the
  // results file as JSON (see <canary/serialize.h>). Any type a dataset may
  // have; canaryc refuses, at the call, one it cannot show.
  template <class V>
  void output(const std::string& key, const V& value) {
#ifdef CANARY_GENERATED  // only the job canaryc builds runs tasks, with the Fields of its structs generated
    std::string json;
    detail::append_json(json, value);
    host_->add(stage_, index_, key, std::move(json));
#else
    (void)key, (void)value;
#endif
  }

 private:
  [[maybe_unused]] int stage_;  // what output() needs, in the job canaryc builds
  int index_;
  int partitions_;
  int iteration_;
  detail::TaskHost* host_;
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

// canary::automatic as a dataset's partition count: the runtime chooses one
// count, shared by every dataset declared so, from the cluster it runs on
// (docs/runtime.md, "Automatic partition counts").
struct Automatic {};
inline constexpr Automatic automatic{};
template <class T>
Dataset<T> dataset(const char* name, Automatic) {
  return Dataset<T>(name, 0);
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

// What a scatter task sends: out.send(destination partition, value). With
// a combine function (canary::combine), what one task sends to one
// destination is merged, in send order, and leaves when the task ends.
template <class T>
class Emit {
 public:
  explicit Emit(detail::ChunkSink* sink) : sink_(sink) {}
  void send(int destination, const T& value) {
    if (merge_) {
      hold(destination, T(value));
    } else {
      write_to(destination, value);
    }
  }
  void send(int destination, T&& value) {
    if (merge_) {
      hold(destination, std::move(value));
    } else {
      move_to(destination, std::move(value));
    }
  }

  // The generated scatter sets the stage's combine function, and flushes
  // what was held once the task function returns.
  template <class C>
  void combine_with(C* combine) {
    combine_ = combine;
    merge_ = [](void* c, T& acc, const T& x) { (*static_cast<C*>(c))(acc, x); };
  }
  void flush() {
    for (auto& [destination, value] : held_) move_to(destination, std::move(value));
    held_.clear();
  }

 private:
  void write_to(int destination, const T& value) {
#ifdef CANARY_GENERATED  // only the job canaryc builds runs tasks, with the Fields of its structs generated
    std::string* buffer = checked(destination);
    Writer w(*buffer);
    canary::write(w, value);
    sink_->sent(destination);
#else
    (void)destination, (void)value;
#endif
  }
  // A large run of plain values travels from where it is: the vector moves
  // into a keeper that lives until the last copy of the chunk is sent or read.
  void move_to(int destination, T&& value) {
#ifdef CANARY_GENERATED
    if constexpr (detail::serializes_as_one_run<T>::value) {
      std::size_t bytes = value.size() * sizeof(typename T::value_type);
      if (bytes >= detail::kAttachBytes) {
        Writer w(*checked(destination));
        detail::write_length(w, value);
        std::shared_ptr<const T> kept(new T(std::move(value)), detail::MovedValue<T>());
        sink_->attach(destination, kept, reinterpret_cast<const char*>(kept->data()), bytes);
        sink_->sent(destination);
        return;
      }
    }
#endif
    write_to(destination, value);
  }
  void hold(int destination, T&& value) {
    checked(destination);
    auto [at, fresh] = held_.try_emplace(destination, std::move(value));
    if (!fresh) merge_(combine_, at->second, value);
  }
  std::string* checked(int destination) {
    std::string* buffer = sink_->buffer(destination);
    if (!buffer)
      throw std::out_of_range("canary: send to partition " + std::to_string(destination) +
                              ", which does not exist");
    return buffer;
  }

  detail::ChunkSink* sink_;
  void* combine_ = nullptr;
  void (*merge_)(void*, T&, const T&) = nullptr;
  std::map<int, T> held_;  // by destination: flushed in partition order
};

// The optional last argument of canary::scatter: merges two chunks for one
// destination, fn(acc, x), before they leave the task.
template <class F>
struct Combine {
  F fn;
};
template <class F>
Combine<F> combine(F fn) {
  return {std::move(fn)};
}

// What a gather task receives: the chunks addressed to its partition, in the
// order of the sending partition's index, then of sending.
template <class T>
class Chunks {
 public:
  class const_iterator;
  Chunks() = default;
  Chunks(Chunks&&) noexcept = default;  // a deque's elements stay where they are
  Chunks& operator=(Chunks&&) noexcept = default;
  // A copy holds copies of the chunks.
  Chunks(const Chunks& other) {
    for (const T& chunk : other) hold(chunk);
  }
  Chunks& operator=(const Chunks& other) {
    if (this != &other) *this = Chunks(other);
    return *this;
  }

  const_iterator begin() const { return const_iterator(order_.data()); }
  const_iterator end() const { return const_iterator(order_.data() + order_.size()); }
  std::size_t size() const { return order_.size(); }
  bool empty() const { return order_.empty(); }
  const T& operator[](std::size_t i) const { return *order_[i]; }

  // How the runtime fills it: a chunk read from its bytes, or one a task on
  // this worker moved out, used where it is.
  void hold(T chunk) {
    held_.push_back(std::move(chunk));
    order_.push_back(&held_.back());
  }
  void share(std::shared_ptr<const T> chunk) {
    order_.push_back(chunk.get());
    shared_.push_back(std::move(chunk));
  }

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;
    explicit const_iterator(const T* const* at) : at_(at) {}
    reference operator*() const { return **at_; }
    pointer operator->() const { return *at_; }
    reference operator[](difference_type n) const { return *at_[n]; }
    const_iterator& operator++() { return *this += 1; }
    const_iterator& operator--() { return *this -= 1; }
    const_iterator operator++(int) { return std::exchange(*this, *this + 1); }
    const_iterator operator--(int) { return std::exchange(*this, *this - 1); }
    const_iterator& operator+=(difference_type n) {
      at_ += n;
      return *this;
    }
    const_iterator& operator-=(difference_type n) { return *this += -n; }
    friend const_iterator operator+(const_iterator i, difference_type n) { return i += n; }
    friend const_iterator operator+(difference_type n, const_iterator i) { return i += n; }
    friend const_iterator operator-(const_iterator i, difference_type n) { return i -= n; }
    friend difference_type operator-(const_iterator a, const_iterator b) { return a.at_ - b.at_; }
    friend bool operator==(const_iterator a, const_iterator b) { return a.at_ == b.at_; }
    friend bool operator!=(const_iterator a, const_iterator b) { return a.at_ != b.at_; }
    friend bool operator<(const_iterator a, const_iterator b) { return a.at_ < b.at_; }
    friend bool operator>(const_iterator a, const_iterator b) { return a.at_ > b.at_; }
    friend bool operator<=(const_iterator a, const_iterator b) { return a.at_ <= b.at_; }
    friend bool operator>=(const_iterator a, const_iterator b) { return a.at_ >= b.at_; }

   private:
    const T* const* at_;
  };

 private:
  std::deque<T> held_;
  std::vector<std::shared_ptr<const T>> shared_;
  std::vector<const T*> order_;
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

template <class F, class W>
struct ReadCallable;
template <class F, class... W>
struct ReadCallable<F, Writes<W...>> : std::is_invocable<F&, Task&, Split&, W&...> {};

template <class F, class R>
struct WriteCallable;
template <class F, class... R>
struct WriteCallable<F, Reads<R...>> : std::is_invocable<F&, Task&, const R&..., Sink&> {};
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

template <class... R, class T, class F, class C>
void scatter(const char* name, Reads<R...> r, To<T> to, F fn, Combine<C>) {
  CANARY_DETAIL_REQUIRE(std::is_invocable_v<C&, T&, const T&>,
                        "a combine function takes (T& acc, const T& x)");
  scatter(name, r, to, std::move(fn));
}

// One task per partition of `d`: merges the chunks the last scatter to `d`
// addressed to it into its partition.
template <class T, class F>
void gather(const char*, Dataset<T>, F) {
  CANARY_DETAIL_REQUIRE(std::is_invocable_v<F&, Task&, Chunks<T>&, T&>,
                        "a gather function takes (canary::Task&, canary::Chunks<T>&, T&)");
}

// One task per partition of the written datasets: task i parses split i of
// the files (DESIGN.md section 4.1) into partition i of each.
template <class... W, class F>
void read(const char*, Files, Writes<W...>, F) {
  CANARY_DETAIL_REQUIRE(detail::ReadCallable<F, Writes<W...>>::value,
                        "a read function takes (canary::Task&, canary::Split&, W&... writes)");
}

// One task per partition of the read datasets: task i writes part file i of
// the directory, committed when every partition has written.
template <class... R, class F>
void write(const char*, Reads<R...>, Files, F) {
  CANARY_DETAIL_REQUIRE(detail::WriteCallable<F, Reads<R...>>::value,
                        "a write function takes (canary::Task&, const R&... reads, canary::Sink&)");
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

// --- helpers every driver needs (DESIGN.md section 4.2) ---------------------

namespace detail {
inline std::uint64_t mix64(std::uint64_t x) {  // one splitmix64 step: the increment, then the finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
inline std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}
inline void require_parts(long long parts) {
  if (parts < 1)
    throw std::invalid_argument("canary: " + std::to_string(parts) + " parts; there must be at least 1");
}
}  // namespace detail

// {begin, end} of block `i` when `total` items are cut into `parts`
// contiguous blocks: total*i/parts .. total*(i+1)/parts.
template <class I, class T, class P,
          class = std::enable_if_t<std::is_integral_v<I> && std::is_integral_v<T> && std::is_integral_v<P>>>
std::pair<long, long> range_of(I i, T total, P parts) {
  detail::require_parts(parts);
  if (i < 0 || static_cast<long long>(i) >= static_cast<long long>(parts))
    throw std::out_of_range("canary: block " + std::to_string(i) + " of " + std::to_string(parts));
  __int128 t = total;
  return {static_cast<long>(t * i / parts), static_cast<long>(t * (static_cast<__int128>(i) + 1) / parts)};
}

// The block that holds `item` under range_of's cut.
template <class I, class T, class P,
          class = std::enable_if_t<std::is_integral_v<I> && std::is_integral_v<T> && std::is_integral_v<P>>>
int owner_of(I item, T total, P parts) {
  detail::require_parts(parts);
  if (item < 0 || static_cast<long long>(item) >= static_cast<long long>(total))
    throw std::out_of_range("canary: item " + std::to_string(item) + " of " + std::to_string(total));
  // The first block whose end passes the item: begin(b) = total*b/parts <= item.
  __int128 b = (static_cast<__int128>(item) * parts + parts) / total;
  if (b >= parts) b = parts - 1;
  while (b > 0 && static_cast<__int128>(total) * b / parts > item) --b;
  while (static_cast<__int128>(total) * (b + 1) / parts <= item) ++b;
  return static_cast<int>(b);
}

// A partition for `key` among `parts`, the same on every machine, compiler
// and run: integers (and enums) by their value, strings by their bytes, any
// other serializable type by its serialized bytes, each hashed (FNV-1a,
// then splitmix64's finalizer, which spreads keys evenly) modulo `parts`.
template <class K>
int hash_partition(const K& key, int parts) {
  detail::require_parts(parts);
  std::uint64_t h;
  if constexpr (std::is_integral_v<K> || std::is_enum_v<K>) {
    h = detail::mix64(static_cast<std::uint64_t>(key));
  } else if constexpr (std::is_convertible_v<const K&, std::string_view>) {
    h = detail::mix64(detail::fnv1a64(std::string_view(key)));
  } else {
    std::string bytes;
    Writer w(bytes);
    canary::write(w, key);
    h = detail::mix64(detail::fnv1a64(bytes));
  }
  return static_cast<int>(h % static_cast<std::uint64_t>(parts));
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
