// <canary/serialize.h>: how partitions, chunks and outputs become bytes, and
// outputs JSON.
//
// No user code is needed for: arithmetic types and enums; std::string;
// std::vector, std::deque, std::array, std::pair, std::tuple, std::optional,
// std::variant (std::monostate among its alternatives too), std::map,
// std::set, std::unordered_map, std::unordered_set and C arrays of serializable types; and any aggregate (a
// struct whose non-static data members are all public, with no virtual functions) of serializable members:
// canaryc sees the struct and generates its canary::Fields<T>, member by member. Two customization points
// remain:
//
//   // the members, in order, with their names (what canaryc generates):
//   template <> struct canary::Fields<Pair> {
//     template <class V, class F> static void each(V& v, F&& f) { f("a", v.a); f("b", v.b); }
//   };
//   // the bytes themselves; wins over everything else:
//   template <> struct canary::Serializer<Graph> {
//     static void write(canary::Writer& w, const Graph& g) { canary::write(w, g.edges); }
//     static void read(canary::Reader& r, Graph& g) { canary::read(r, g.edges); }
//   };
//
// canaryc refuses, at the driver's line, a type that is none of these.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
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

// Reads bytes from a buffer it does not own, in one piece or in several
// (a value may span pieces: bytes that arrived in several frames); running
// past its end throws, so a truncated or hostile buffer is an error, never
// undefined behaviour.
class Reader {
 public:
  Reader(const char* data, std::size_t size) : data_(data), in_piece_(size), left_(size) {}
  Reader(const std::string_view* pieces, std::size_t count) : next_(pieces) {
    for (std::size_t i = 0; i < count; ++i) left_ += pieces[i].size();
  }
  void bytes(void* into, std::size_t size) {
    if (size > left_) throw std::out_of_range("canary: truncated serialized value");
    if (size == 0) return;  // `into` may be an empty vector's null data()
    if (size > in_piece_) return across(static_cast<char*>(into), size);
    std::memcpy(into, data_, size);
    data_ += size;
    in_piece_ -= size;
    left_ -= size;
  }
  // Bounds a length prefix by what is left, so a hostile length cannot make
  // a reader allocate more than the buffer could describe. Every value takes
  // at least one byte.
  std::size_t length(std::size_t min_element_size) {
    std::uint64_t n = 0;
    bytes(&n, sizeof n);
    if (n > left_ / std::max<std::size_t>(min_element_size, 1))
      throw std::out_of_range("canary: serialized length exceeds the buffer");
    return static_cast<std::size_t>(n);
  }
  std::size_t remaining() const { return left_; }
  // The address of the next byte to read, null at the end: where a gather
  // recognizes a run moved to it on the same worker (rt::read_chunks).
  const char* position() {
    if (left_ == 0) return nullptr;
    next_piece();
    return data_;
  }
  void skip(std::size_t size) {
    if (size > left_) throw std::out_of_range("canary: truncated serialized value");
    across(nullptr, size);
  }
  // Replaces `out` with `n` trivially copyable elements read from here.
  // Unlike resize() and bytes(), nothing is zeroed before being overwritten:
  // for chunks of megabytes that zeroing cost as much as the copy.
  template <class E>
  void elements(std::vector<E>& out, std::size_t n) {
    if (n > left_ / sizeof(E)) throw std::out_of_range("canary: truncated serialized value");
    out.clear();
    out.reserve(n);
    while (out.size() < n) {
      next_piece();
      std::size_t whole = std::min(n - out.size(), in_piece_ / sizeof(E));
      if (whole == 0) {  // an element split between pieces
        E e{};
        bytes(&e, sizeof e);
        out.push_back(e);
        continue;
      }
      if (reinterpret_cast<std::uintptr_t>(data_) % alignof(E) == 0) {
        const E* first = reinterpret_cast<const E*>(data_);
        out.insert(out.end(), first, first + whole);
      } else {
        std::size_t at = out.size();
        out.resize(at + whole);
        std::memcpy(out.data() + at, data_, whole * sizeof(E));
      }
      data_ += whole * sizeof(E);
      in_piece_ -= whole * sizeof(E);
      left_ -= whole * sizeof(E);
    }
  }

 private:
  // Moves on to the next non-empty piece if this one is used up; only
  // called with bytes left.
  void next_piece() {
    while (in_piece_ == 0) {
      data_ = next_->data();
      in_piece_ = next_->size();
      ++next_;
    }
  }
  // The slow path: what is left of this piece, then the next pieces,
  // copied to `into`, or passed over when it is null.
  void across(char* into, std::size_t size) {
    while (size > 0) {
      next_piece();
      std::size_t n = std::min(size, in_piece_);
      if (into) {
        std::memcpy(into, data_, n);
        into += n;
      }
      data_ += n;
      in_piece_ -= n;
      left_ -= n;
      size -= n;
    }
  }

  const char* data_ = nullptr;
  std::size_t in_piece_ = 0;                // left in the piece at data_
  std::size_t left_ = 0;                    // left in all
  const std::string_view* next_ = nullptr;  // left_ says how far it may go
};

// The customization points (see the top of this file).
template <class T, class Enable = void>
struct Serializer;
template <class T>
struct Fields;

// (canaryc reads drivers with CANARY_ANALYSIS defined, before it has
// generated the Fields of their structs: it judges the types itself.)
template <class T>
void write(Writer& w, const T& value) {
#ifndef CANARY_ANALYSIS
  Serializer<T>::write(w, value);
#else
  (void)w, (void)value;
#endif
}
template <class T>
void read(Reader& r, T& value) {
#ifndef CANARY_ANALYSIS
  Serializer<T>::read(r, value);
#else
  (void)r, (void)value;
#endif
}

namespace detail {

template <class T, template <class...> class Template>
struct is_instance : std::false_type {};
template <template <class...> class Template, class... A>
struct is_instance<Template<A...>, Template> : std::true_type {};

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
constexpr bool is_tuple_like =
    is_instance<T, std::pair>::value || is_instance<T, std::tuple>::value || is_std_array<T>::value;
template <class T>
constexpr bool is_sequence = (is_instance<T, std::vector>::value && !std::is_same_v<T, std::vector<bool>>) ||
                             is_instance<T, std::deque>::value || std::is_same_v<T, std::vector<bool>>;
template <class T>
constexpr bool is_map_like = is_instance<T, std::map>::value || is_instance<T, std::unordered_map>::value;
template <class T>
constexpr bool is_set_like = is_instance<T, std::set>::value || is_instance<T, std::unordered_set>::value;
template <class T>
constexpr bool is_unordered =
    is_instance<T, std::unordered_map>::value || is_instance<T, std::unordered_set>::value;

// Fields<T> is defined (canaryc generated it, or the user wrote it).
template <class T, class = void>
struct has_fields : std::false_type {};
template <class T>
struct has_fields<T, std::void_t<decltype(sizeof(Fields<T>))>> : std::true_type {};

// Whether a value's bytes are all its own: no padding, whose contents are
// arbitrary, so that the same value always has the same bytes (what
// hash_partition and snapshots rely on). Fields<T>::packed says it for a
// struct: canaryc reads it off the struct's layout.
template <class T, class = void>
struct is_packed : std::bool_constant<std::has_unique_object_representations_v<T>> {};
template <class T>
struct is_packed<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> : std::true_type {};
template <class T, std::size_t N>
struct is_packed<std::array<T, N>> : is_packed<T> {};
template <class T, std::size_t N>
struct is_packed<T[N]> : is_packed<T> {};
template <class A, class B>
struct is_packed<std::pair<A, B>> : std::bool_constant<is_packed<A>::value && is_packed<B>::value &&
                                                       sizeof(std::pair<A, B>) == sizeof(A) + sizeof(B)> {};
template <class... T>
struct is_packed<std::tuple<T...>>
    : std::bool_constant<(is_packed<T>::value && ...) && sizeof(std::tuple<T...>) == (0 + ... + sizeof(T))> {
};
template <class T>
struct is_packed<T, std::enable_if_t<has_fields<T>::value>> : std::bool_constant<Fields<T>::packed> {};

// One memcpy: trivially copyable types without padding that are not
// pointers (canaryc refuses pointers inside structs). Not bools, optionals
// and variants: bytes from elsewhere could hold a value they cannot (a bool
// of 2, an alternative that does not exist), so they are checked as they
// are read.
template <class T>
constexpr bool is_memcpy_serializable =
    std::is_trivially_copyable_v<T>&& is_packed<T>::value && !std::is_pointer_v<T> &&
    !std::is_member_pointer_v<T> && !std::is_same_v<T, bool> && !is_instance<T, std::optional>::value &&
    !is_instance<T, std::variant>::value;

template <class T>
void write_length(Writer& w, const T& c) {
  std::uint64_t n = c.size();
  w.bytes(&n, sizeof n);
}

}  // namespace detail

template <class T>
struct Serializer<T, std::enable_if_t<detail::is_memcpy_serializable<T>>> {
  static void write(Writer& w, const T& v) { w.bytes(&v, sizeof v); }
  static void read(Reader& r, T& v) { r.bytes(&v, sizeof v); }
};

template <>
struct Serializer<bool> {
  static void write(Writer& w, bool v) {
    std::uint8_t byte = v;
    w.bytes(&byte, 1);
  }
  static void read(Reader& r, bool& v) {
    std::uint8_t byte = 0;
    r.bytes(&byte, 1);
    if (byte > 1) throw std::out_of_range("canary: malformed bool");
    v = byte;
  }
};

template <>
struct Serializer<std::string> {
  static void write(Writer& w, const std::string& s) {
    detail::write_length(w, s);
    w.bytes(s.data(), s.size());
  }
  static void read(Reader& r, std::string& s) {
    s.resize(r.length(1));
    r.bytes(s.data(), s.size());
  }
};

// Pairs, tuples and arrays of anything not trivially copyable: their
// elements in order.
template <class T>
struct Serializer<T, std::enable_if_t<detail::is_tuple_like<T> && !detail::is_memcpy_serializable<T>>> {
  static void write(Writer& w, const T& v) {
    std::apply([&w](const auto&... e) { (canary::write(w, e), ...); }, v);
  }
  static void read(Reader& r, T& v) {
    std::apply([&r](auto&... e) { (canary::read(r, e), ...); }, v);
  }
};

// C arrays of anything not trivially copyable.
template <class T, std::size_t N>
struct Serializer<T[N], std::enable_if_t<!detail::is_memcpy_serializable<T[N]>>> {
  static void write(Writer& w, const T (&v)[N]) {
    for (const T& e : v) canary::write(w, e);
  }
  static void read(Reader& r, T (&v)[N]) {
    for (T& e : v) canary::read(r, e);
  }
};

// Vectors and deques: a length, then the elements (one memcpy for a vector
// of trivially copyable ones).
template <class C>
struct Serializer<C, std::enable_if_t<detail::is_sequence<C>>> {
  using Element = typename C::value_type;
  static constexpr bool kContiguous = detail::is_instance<C, std::vector>::value &&
                                      !std::is_same_v<Element, bool> &&
                                      detail::is_memcpy_serializable<Element>;
  static void write(Writer& w, const C& c) {
    detail::write_length(w, c);
    if constexpr (kContiguous) {
      w.bytes(c.data(), c.size() * sizeof(Element));
    } else {
      for (const auto& e : c) canary::write(w, static_cast<const Element&>(e));
    }
  }
  static void read(Reader& r, C& c) {
    std::size_t n = r.length(kContiguous ? sizeof(Element) : 1);
    if constexpr (kContiguous) {
      r.elements(c, n);
    } else {
      C out;
      for (std::size_t i = 0; i < n; ++i) {
        Element e{};
        canary::read(r, e);
        out.push_back(std::move(e));
      }
      c = std::move(out);
    }
  }
};

// Maps: a length, then each key and its value; sets: a length, then the
// keys. (Read into plain values, then inserted: the containers' own
// elements have const keys.)
template <class C>
struct Serializer<C, std::enable_if_t<detail::is_map_like<C>>> {
  static void write(Writer& w, const C& c) {
    detail::write_length(w, c);
    for (const auto& [k, v] : c) {
      canary::write(w, k);
      canary::write(w, v);
    }
  }
  static void read(Reader& r, C& c) {
    std::size_t n = r.length(1);
    c.clear();
    for (std::size_t i = 0; i < n; ++i) {
      typename C::key_type k{};
      typename C::mapped_type v{};
      canary::read(r, k);
      canary::read(r, v);
      c.emplace(std::move(k), std::move(v));
    }
  }
};
template <class C>
struct Serializer<C, std::enable_if_t<detail::is_set_like<C>>> {
  static void write(Writer& w, const C& c) {
    detail::write_length(w, c);
    for (const auto& k : c) canary::write(w, k);
  }
  static void read(Reader& r, C& c) {
    std::size_t n = r.length(1);
    c.clear();
    for (std::size_t i = 0; i < n; ++i) {
      typename C::key_type k{};
      canary::read(r, k);
      c.insert(std::move(k));
    }
  }
};

template <class T>
struct Serializer<std::optional<T>> {
  static void write(Writer& w, const std::optional<T>& v) {
    std::uint8_t has = v.has_value();
    w.bytes(&has, 1);
    if (v) canary::write(w, *v);
  }
  static void read(Reader& r, std::optional<T>& v) {
    std::uint8_t has = 0;
    r.bytes(&has, 1);
    if (has > 1) throw std::out_of_range("canary: malformed std::optional");
    if (!has) {
      v.reset();
      return;
    }
    if (!v) v.emplace();
    canary::read(r, *v);
  }
};

// A variant's empty alternative: no bytes.
template <>
struct Serializer<std::monostate> {
  static void write(Writer&, const std::monostate&) {}
  static void read(Reader&, std::monostate&) {}
};

template <class... T>
struct Serializer<std::variant<T...>> {
  static void write(Writer& w, const std::variant<T...>& v) {
    if (v.valueless_by_exception()) throw std::invalid_argument("canary: a std::variant without a value");
    std::uint32_t index = static_cast<std::uint32_t>(v.index());
    w.bytes(&index, sizeof index);
    std::visit([&w](const auto& held) { canary::write(w, held); }, v);
  }
  static void read(Reader& r, std::variant<T...>& v) {
    std::uint32_t index = 0;
    r.bytes(&index, sizeof index);
    if (index >= sizeof...(T)) throw std::out_of_range("canary: malformed std::variant");
    read_as(r, v, index, std::index_sequence_for<T...>{});
  }

 private:
  template <std::size_t... I>
  static void read_as(Reader& r, std::variant<T...>& v, std::uint32_t index, std::index_sequence<I...>) {
    (void)((index == I ? (canary::read(r, v.template emplace<I>()), true) : false) || ...);
  }
};

// Aggregates: their members, in order (Fields<T>, which canaryc generates).
template <class T>
struct Serializer<T, std::enable_if_t<detail::has_fields<T>::value && !detail::is_memcpy_serializable<T>>> {
  static void write(Writer& w, const T& v) {
    Fields<T>::each(v, [&w](const char*, const auto& member) { canary::write(w, member); });
  }
  static void read(Reader& r, T& v) {
    Fields<T>::each(v, [&r](const char*, auto& member) { canary::read(r, member); });
  }
};

namespace detail {

// Values as JSON text, for the results (DESIGN.md section 4): an aggregate
// is an object keyed by its members' names, a map with string keys an
// object, any other map a list of [key, value] pairs; pairs, tuples,
// sequences and sets are lists; an optional is null or its value, a variant
// its held value, an enum its integer. Doubles print in the shortest form
// that reads back bit-identical; NaN and infinities, which JSON has no
// numbers for, as the strings "nan", "inf" and "-inf". Unordered
// containers are listed in the order of their elements' JSON text, so the
// same values always print alike.
// The length of the well-formed UTF-8 sequence at s[i] (Unicode's table
// 3-7), or 0 if the bytes there are not one.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto in = [](unsigned b, unsigned low, unsigned high) { return b >= low && b <= high; };
  unsigned lead = byte(0), second = byte(1);
  std::size_t length = lead < 0x80            ? 1
                       : in(lead, 0xC2, 0xDF) ? 2
                       : in(lead, 0xE0, 0xEF) ? 3
                       : in(lead, 0xF0, 0xF4) ? 4
                                              : 0;
  if (length >= 2) {
    unsigned low = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
    unsigned high = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
    if (!in(second, low, high)) return 0;
    for (std::size_t k = 2; k < length; ++k)
      if (!in(byte(k), 0x80, 0xBF)) return 0;
  }
  return length;
}

// A JSON string of `s`. Bytes that are not UTF-8 (a Latin-1 file's, say)
// become U+FFFD, as JSON text must be UTF-8.
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      std::size_t length = utf8_sequence_length(s, i);
      if (length == 0) {
        out += "\\ufffd";
      } else {
        out.append(s.substr(i, length));
        i += length - 1;
      }
      continue;
    }
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
void append_json(std::string& out, const T& value);

// Appends `items` (already JSON) as a JSON list, or as an object when `keys`.
inline void append_joined(std::string& out, const std::vector<std::string>& items, char open, char close) {
  out += open;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
  out += close;
}

template <class C, class Each>
void append_container(std::string& out, const C& c, char open, char close, Each&& each) {
  std::vector<std::string> items;
  for (const auto& e : c) each(items.emplace_back(), e);
  if constexpr (is_unordered<C>) std::sort(items.begin(), items.end());
  append_joined(out, items, open, close);
}

template <class T>
void append_json(std::string& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::monostate>) {
    out += "null";
  } else if constexpr (std::is_floating_point_v<T>) {
    if (value != value) {
      out += "\"nan\"";
    } else if (value - value != 0) {
      out += value > 0 ? "\"inf\"" : "\"-inf\"";
    } else if (value == 0 && std::signbit(value)) {
      out += "-0.0";  // "-0" would read back as the integer 0
    } else {
      char buf[64];
      auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
      out.append(buf, end);
    }
  } else if constexpr (std::is_enum_v<T>) {
    append_json(out, static_cast<std::underlying_type_t<T>>(value));
  } else if constexpr (std::is_arithmetic_v<T>) {
    out += std::to_string(value);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    append_json_string(out, std::string_view(value));
  } else if constexpr (is_instance<T, std::optional>::value) {
    if (value) {
      append_json(out, *value);
    } else {
      out += "null";
    }
  } else if constexpr (is_instance<T, std::variant>::value) {
    std::visit([&out](const auto& held) { append_json(out, held); }, value);
  } else if constexpr (is_map_like<T>) {
    using Key = typename T::key_type;
    if constexpr (std::is_convertible_v<const Key&, std::string_view>) {
      append_container(out, value, '{', '}', [](std::string& item, const auto& kv) {
        append_json_string(item, std::string_view(kv.first));
        item += ':';
        append_json(item, kv.second);
      });
    } else {
      append_container(out, value, '[', ']', [](std::string& item, const auto& kv) {
        item += '[';
        append_json(item, kv.first);
        item += ',';
        append_json(item, kv.second);
        item += ']';
      });
    }
  } else if constexpr (is_tuple_like<T>) {
    std::vector<std::string> items;
    std::apply([&items](const auto&... e) { (append_json(items.emplace_back(), e), ...); }, value);
    append_joined(out, items, '[', ']');
  } else if constexpr (has_fields<T>::value) {
    std::vector<std::string> items;
    Fields<T>::each(value, [&items](const char* name, const auto& member) {
      std::string& item = items.emplace_back();
      append_json_string(item, name);
      item += ':';
      append_json(item, member);
    });
    append_joined(out, items, '{', '}');
  } else {
    static_assert(std::is_array_v<T> || is_sequence<T> || is_set_like<T>,
                  "t.output takes serializable values (canaryc names the type it cannot show)");
    append_container(out, value, '[', ']', [](std::string& item, const auto& e) { append_json(item, e); });
  }
}

}  // namespace detail

}  // namespace canary
