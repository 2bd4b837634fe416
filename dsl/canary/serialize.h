// <canary/serialize.h>: how partitions, chunks and outputs become bytes.
//
// Trivially copyable types, std::string, and std::vector / std::array /
// std::pair / std::tuple / std::map / std::set / std::unordered_map of
// serializable types need no user code. Any other type T is made
// serializable by specialising canary::Serializer<T> (see docs/dsl.md):
//
//   template <> struct canary::Serializer<Graph> {
//     static void write(canary::Writer& w, const Graph& g) { canary::write(w, g.edges); }
//     static void read(canary::Reader& r, Graph& g) { canary::read(r, g.edges); }
//   };
//
// canaryc rejects a dataset whose type is none of these.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace canary {

// Appends bytes to a buffer.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void bytes(const void* data, std::size_t size) { out_.append(static_cast<const char*>(data), size); }

 private:
  std::string& out_;
};

// Reads bytes from a buffer it does not own; running past its end throws,
// so a truncated or hostile buffer is an error, never undefined behaviour.
class Reader {
 public:
  Reader(const char* data, std::size_t size) : data_(data), left_(size) {}
  void bytes(void* into, std::size_t size) {
    if (size > left_) throw std::out_of_range("canary: truncated serialized value");
    if (size == 0) return;  // `into` may be an empty vector's null data()
    std::memcpy(into, data_, size);
    data_ += size;
    left_ -= size;
  }
  // Bounds a length prefix by what is left, so a hostile length cannot make
  // a reader allocate more than the buffer could describe.
  std::size_t length(std::size_t min_element_size) {
    std::uint64_t n = 0;
    bytes(&n, sizeof n);
    if (min_element_size > 0 && n > left_ / min_element_size)
      throw std::out_of_range("canary: serialized length exceeds the buffer");
    return static_cast<std::size_t>(n);
  }
  std::size_t remaining() const { return left_; }

 private:
  const char* data_;
  std::size_t left_;
};

// The customization point: specialise for a type the defaults do not cover.
template <class T, class Enable = void>
struct Serializer;

template <class T>
void write(Writer& w, const T& value) {
  Serializer<T>::write(w, value);
}
template <class T>
void read(Reader& r, T& value) {
  Serializer<T>::read(r, value);
}

namespace detail {
template <class T>
struct is_std_container : std::false_type {};
template <class T, class A>
struct is_std_container<std::vector<T, A>> : std::true_type {};
template <class K, class V, class C, class A>
struct is_std_container<std::map<K, V, C, A>> : std::true_type {};
template <class K, class C, class A>
struct is_std_container<std::set<K, C, A>> : std::true_type {};
template <class K, class V, class H, class E, class A>
struct is_std_container<std::unordered_map<K, V, H, E, A>> : std::true_type {};

template <class T>
struct is_std_tuple_like : std::false_type {};
template <class A, class B>
struct is_std_tuple_like<std::pair<A, B>> : std::true_type {};
template <class... T>
struct is_std_tuple_like<std::tuple<T...>> : std::true_type {};
template <class T, std::size_t N>
struct is_std_tuple_like<std::array<T, N>> : std::true_type {};

template <class T>
constexpr bool is_memcpy_serializable =
    std::is_trivially_copyable_v<T> && !is_std_tuple_like<T>::value && !std::is_pointer_v<T>;

template <class T>
using element_t = std::remove_const_t<typename T::value_type>;
}  // namespace detail

template <class T>
struct Serializer<T, std::enable_if_t<detail::is_memcpy_serializable<T>>> {
  static void write(Writer& w, const T& v) { w.bytes(&v, sizeof v); }
  static void read(Reader& r, T& v) { r.bytes(&v, sizeof v); }
};

template <>
struct Serializer<std::string> {
  static void write(Writer& w, const std::string& s) {
    std::uint64_t n = s.size();
    w.bytes(&n, sizeof n);
    w.bytes(s.data(), s.size());
  }
  static void read(Reader& r, std::string& s) {
    s.resize(r.length(1));
    r.bytes(s.data(), s.size());
  }
};

// Pairs, tuples and arrays: their elements in order. (An array of trivially
// copyable elements is one memcpy.)
template <class T>
struct Serializer<T, std::enable_if_t<detail::is_std_tuple_like<T>::value>> {
  static void write(Writer& w, const T& v) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      w.bytes(&v, sizeof v);
    } else {
      std::apply([&w](const auto&... e) { (canary::write(w, e), ...); }, v);
    }
  }
  static void read(Reader& r, T& v) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      r.bytes(&v, sizeof v);
    } else {
      std::apply([&r](auto&... e) { (canary::read(r, e), ...); }, v);
    }
  }
};

// Vectors, maps and sets: a length, then the elements.
template <class C>
struct Serializer<C, std::enable_if_t<detail::is_std_container<C>::value>> {
  using Element = detail::element_t<C>;
  static void write(Writer& w, const C& c) {
    std::uint64_t n = c.size();
    w.bytes(&n, sizeof n);
    if constexpr (std::is_trivially_copyable_v<Element> && std::is_same_v<C, std::vector<Element>>) {
      w.bytes(c.data(), c.size() * sizeof(Element));
    } else {
      for (const auto& e : c) canary::write(w, e);
    }
  }
  static void read(Reader& r, C& c) {
    std::size_t n = r.length(std::is_trivially_copyable_v<Element> ? sizeof(Element) : 1);
    c.clear();
    if constexpr (std::is_same_v<C, std::vector<Element>>) {
      c.resize(n);
      if constexpr (std::is_trivially_copyable_v<Element>) {
        r.bytes(c.data(), n * sizeof(Element));
      } else {
        for (auto& e : c) canary::read(r, e);
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        Element e{};
        canary::read(r, e);
        c.insert(std::move(e));
      }
    }
  }
};

namespace detail {
// Output values as JSON text: arithmetic types, strings, and sequences of
// them. Doubles print in the shortest form that reads back bit-identical.
inline void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

template <class T>
void append_json(std::string& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    if (value != value || value - value != 0) {  // NaN or infinity: not JSON numbers
      out += "null";
      return;
    }
    char buf[64];
    auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    out.append(buf, end);
  } else if constexpr (std::is_arithmetic_v<T>) {
    out += std::to_string(value);
  } else if constexpr (std::is_convertible_v<const T&, std::string>) {
    append_json_string(out, std::string(value));
  } else {
    static_assert(!std::is_same_v<decltype(std::begin(value)), void>,
                  "t.output takes arithmetic values, strings, and vectors or arrays of them");
    out += '[';
    bool first = true;
    for (const auto& e : value) {
      if (!first) out += ',';
      first = false;
      append_json(out, e);
    }
    out += ']';
  }
}
}  // namespace detail

}  // namespace canary
