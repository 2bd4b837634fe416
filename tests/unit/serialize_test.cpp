// <canary/serialize.h>: every type DESIGN.md section 4 lists round-trips
// through bytes, malformed bytes are refused, and outputs render as the JSON
// the contract says. Fields<T> is written here by hand as canaryc would
// generate it.
#include <canary/serialize.h>
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace {

// A user's type with its own serializer, inside containers.
struct Series {
  std::vector<double> points;
  int ignored_on_the_wire = 0;
};

enum class Colour : std::uint8_t { Red = 1, Blue = 7 };

namespace geo {
template <class T>
struct Pair {
  T first;
  T second;
};
}  // namespace geo

struct Inner {
  std::string label;
  std::optional<int> best;
};
struct Record {
  std::map<std::string, long> counts;
  std::vector<Inner> inners;
  std::tuple<int, std::string, double> triple;
  geo::Pair<std::string> names;
  std::variant<int, std::string, std::vector<double>> either;
  std::deque<Colour> colours;
  std::unordered_set<std::string> tags;
  std::set<std::pair<int, int>> edges;
  std::array<std::string, 2> ends;
  std::string words[2];
  bool flag = false;
  unsigned small : 4;
};

}  // namespace

template <>
struct canary::Serializer<Series> {
  static void write(canary::Writer& w, const Series& s) { canary::write(w, s.points); }
  static void read(canary::Reader& r, Series& s) { canary::read(r, s.points); }
};
template <class T>
struct canary::Fields<geo::Pair<T>> {
  static constexpr bool packed = std::is_arithmetic_v<T>;
  template <class V, class F>
  static void each(V& v, F&& f) {
    f("first", v.first);
    f("second", v.second);
  }
};
template <>
struct canary::Fields<Inner> {
  static constexpr bool packed = false;
  template <class V, class F>
  static void each(V& v, F&& f) {
    f("label", v.label);
    f("best", v.best);
  }
};
template <>
struct canary::Fields<Record> {  // as canaryc writes it, a bit-field through a copy
  static constexpr bool packed = false;
  template <class F>
  static void each(const Record& v, F&& f) {
    f("counts", v.counts), f("inners", v.inners), f("triple", v.triple), f("names", v.names);
    f("either", v.either), f("colours", v.colours), f("tags", v.tags), f("edges", v.edges);
    f("ends", v.ends), f("words", v.words), f("flag", v.flag);
    f("small", static_cast<unsigned>(v.small));
  }
  template <class F>
  static void each(Record& v, F&& f) {
    f("counts", v.counts), f("inners", v.inners), f("triple", v.triple), f("names", v.names);
    f("either", v.either), f("colours", v.colours), f("tags", v.tags), f("edges", v.edges);
    f("ends", v.ends), f("words", v.words), f("flag", v.flag);
    unsigned small = v.small;
    f("small", small);
    v.small = small;
  }
};

namespace {

template <class T>
std::string bytes_of(const T& value) {
  std::string out;
  canary::Writer w(out);
  canary::write(w, value);
  return out;
}

template <class T>
T back(const std::string& bytes) {
  canary::Reader r(bytes.data(), bytes.size());
  T value{};
  canary::read(r, value);
  CHECK(r.remaining() == 0);
  return value;
}

template <class T>
void round_trips(const T& value) {
  CHECK(back<T>(bytes_of(value)) == value);
}

template <class T>
nlohmann::json json_of(const T& value) {
  std::string out;
  canary::detail::append_json(out, value);
  return nlohmann::json::parse(out);
}

Record sample() {
  Record r;
  r.counts = {{"apple", 3}, {"pear", -1}};
  r.inners = {{"a", 4}, {"b", std::nullopt}};
  r.triple = {7, "seven", 7.5};
  r.names = {"left", "right"};
  r.either = std::vector<double>{1.5, 2.5};
  r.colours = {Colour::Blue, Colour::Red};
  r.tags = {"x", "y", "z"};
  r.edges = {{1, 2}, {2, 3}};
  r.ends = {"from", "to"};
  r.words[0] = "hello";
  r.words[1] = "world";
  r.flag = true;
  r.small = 9;
  return r;
}

}  // namespace

TEST_CASE("standard containers of any serializable keys and values round-trip") {
  round_trips(std::map<std::string, long>{{"a", 1}, {"bb", 2}});
  round_trips(std::map<int, std::vector<double>>{{1, {1.5}}, {2, {}}});
  round_trips(std::unordered_map<std::string, double>{{"x", 0.25}, {"y", -3}});
  round_trips(std::set<std::string>{"one", "two"});
  round_trips(std::unordered_set<long>{5, 6, 7});
  round_trips(std::deque<std::string>{"p", "q"});
  round_trips(std::vector<bool>{true, false, true});
  round_trips(std::vector<std::vector<std::string>>{{"a"}, {}, {"b", "c"}});
  round_trips(std::optional<std::string>("there"));
  round_trips(std::optional<std::string>());
  round_trips(std::variant<int, std::string>("text"));
  round_trips(std::variant<int, std::string>(42));
  round_trips(std::pair<std::string, std::map<int, std::set<int>>>{"k", {{1, {2, 3}}}});
  round_trips(std::tuple<int, std::optional<double>, std::string>{1, 2.5, "three"});
  round_trips(std::array<std::string, 3>{"a", "b", "c"});
  round_trips(Colour::Blue);

  std::unordered_map<int, Series> by_id = {{1, {{1, 2, 3}, 5}}, {2, {{}, 6}}};
  auto again = back<std::unordered_map<int, Series>>(bytes_of(by_id));
  REQUIRE(again.size() == 2);
  CHECK(again[1].points == std::vector<double>{1, 2, 3});
  CHECK(again[1].ignored_on_the_wire == 0);  // the user's serializer wins: it skips this member
}

TEST_CASE("aggregates round-trip member by member, nested and inside containers") {
  Record r = sample();
  Record again = back<Record>(bytes_of(r));
  CHECK(again.counts == r.counts);
  REQUIRE(again.inners.size() == 2);
  CHECK(again.inners[0].label == "a");
  CHECK(again.inners[0].best == 4);
  CHECK(!again.inners[1].best);
  CHECK(again.triple == r.triple);
  CHECK(again.names.second == "right");
  CHECK(std::get<std::vector<double>>(again.either) == std::vector<double>{1.5, 2.5});
  CHECK(again.colours == r.colours);
  CHECK(again.tags == r.tags);
  CHECK(again.edges == r.edges);
  CHECK(again.ends == r.ends);
  CHECK(again.words[1] == "world");
  CHECK(again.flag);
  CHECK(static_cast<unsigned>(again.small) == 9);
  auto pairs = back<std::vector<geo::Pair<int>>>(bytes_of(std::vector<geo::Pair<int>>{{1, 2}, {3, 4}}));
  CHECK(pairs[1].second == 4);
}

TEST_CASE(
    "a value's bytes hold no padding: a padded struct goes member by member, a packed one in one block") {
  std::pair<int, double> padded{1, 2.5};
  CHECK(bytes_of(padded).size() == sizeof(int) + sizeof(double));
  CHECK(bytes_of(geo::Pair<double>{1, 2}).size() == 2 * sizeof(double));
  CHECK(bytes_of(std::vector<std::pair<int, double>>(3, padded)).size() ==
        8 + 3 * (sizeof(int) + sizeof(double)));
}

TEST_CASE("a vector of trivially copyable values is its length and one block of bytes") {
  std::vector<double> v = {1.5, 2.5, 3.5};
  std::string bytes = bytes_of(v);
  REQUIRE(bytes.size() == 8 + 3 * sizeof(double));
  CHECK(bytes.substr(8) == std::string(reinterpret_cast<const char*>(v.data()), 3 * sizeof(double)));
}

TEST_CASE("malformed bytes are refused, never read past their end") {
  std::string text = bytes_of(std::string("hello"));
  CHECK_THROWS_AS(back<std::string>(text.substr(0, 10)), std::out_of_range);
  std::string optional = bytes_of(std::optional<int>(3));
  optional[0] = 2;  // neither absent nor present
  CHECK_THROWS_AS(back<std::optional<int>>(optional), std::out_of_range);
  std::string variant = bytes_of(std::variant<int, double>(1));
  variant[0] = 5;  // an alternative that does not exist
  CHECK_THROWS_AS((back<std::variant<int, double>>(variant)), std::out_of_range);
  std::string huge(8, '\xff');  // a length of 2^64-1 elements
  CHECK_THROWS_AS((back<std::map<std::string, long>>(huge)), std::out_of_range);
  CHECK_THROWS_AS(back<Record>(bytes_of(sample()).substr(0, 40)), std::out_of_range);
}

TEST_CASE("outputs render as the contract's JSON") {
  nlohmann::json j = json_of(sample());
  CHECK(j["counts"] == nlohmann::json({{"apple", 3}, {"pear", -1}}));
  CHECK(j["inners"] == nlohmann::json::parse(R"([{"label": "a", "best": 4}, {"label": "b", "best": null}])"));
  CHECK(j["triple"] == nlohmann::json::parse(R"([7, "seven", 7.5])"));
  CHECK(j["names"] == nlohmann::json({{"first", "left"}, {"second", "right"}}));
  CHECK(j["either"] == nlohmann::json({1.5, 2.5}));
  CHECK(j["colours"] == nlohmann::json({7, 1}));
  CHECK(j["tags"] == nlohmann::json({"x", "y", "z"}));  // unordered: sorted
  CHECK(j["edges"] == nlohmann::json::parse("[[1, 2], [2, 3]]"));
  CHECK(j["words"] == nlohmann::json({"hello", "world"}));
  CHECK(j["flag"] == true);
  CHECK(j["small"] == 9);
  CHECK(json_of(std::map<int, std::string>{{2, "b"}, {1, "a"}}) ==
        nlohmann::json::parse(R"([[1, "a"], [2, "b"]])"));
  CHECK(json_of(std::vector<double>{std::nan(""), std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(), 0.1}) ==
        nlohmann::json::parse(R"(["nan", "inf", "-inf", 0.1])"));
  nlohmann::json zero = json_of(-0.0);
  CHECK(zero.is_number_float());
  CHECK(std::signbit(zero.get<double>()));
}

TEST_CASE("a variant's std::monostate crosses as nothing and shows as null") {
  using Maybe = std::variant<std::monostate, std::string, double>;
  round_trips(Maybe{});
  round_trips(Maybe{std::string("x")});
  round_trips(std::vector<Maybe>{Maybe{}, Maybe{2.5}, Maybe{}});
  CHECK(json_of(std::vector<Maybe>{Maybe{}, Maybe{2.5}}) == nlohmann::json::parse("[null, 2.5]"));
}

TEST_CASE("strings render as UTF-8 JSON whatever bytes they hold") {
  // UTF-8 passes through; stray bytes (Latin-1's e-acute, a cut sequence,
  // a surrogate's encoding, an overlong slash) each become U+FFFD.
  CHECK(json_of(std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")) == "caf\u00e9 \u20ac \U0001F600");
  CHECK(json_of(std::string("caf\xe9")) == "caf\ufffd");
  CHECK(json_of(std::string("\xe2\x82")) == "\ufffd\ufffd");
  CHECK(json_of(std::string("\xed\xa0\x80!")) == "\ufffd\ufffd\ufffd!");
  CHECK(json_of(std::string("\xc0\xaf")) == "\ufffd\ufffd");
  CHECK(json_of(std::string("tab\there \x01")) == "tab\there \u0001");
}

TEST_CASE("a value reads the same from bytes cut in pieces anywhere, as frames arrive") {
  std::map<std::string, std::vector<double>> value{{"a", {1.5, -2, 3}},
                                                   {"bb", std::vector<double>(1000, 0.25)}};
  std::string bytes = bytes_of(value);
  for (std::size_t cut1 : {std::size_t{0}, std::size_t{1}, std::size_t{9}, bytes.size() / 2})
    for (std::size_t cut2 : {cut1, cut1 + 3, bytes.size() - 1, bytes.size()}) {
      std::string_view whole(bytes);
      std::string_view pieces[] = {whole.substr(0, cut1), whole.substr(cut1, cut2 - cut1),
                                   whole.substr(cut2)};
      canary::Reader r(pieces, 3);
      std::map<std::string, std::vector<double>> back;
      canary::read(r, back);
      CHECK(back == value);
      CHECK(r.remaining() == 0);
    }
  std::string_view truncated[] = {std::string_view(bytes).substr(0, 20),
                                  std::string_view(bytes).substr(30, 10)};
  canary::Reader r(truncated, 2);
  std::map<std::string, std::vector<double>> back;
  CHECK_THROWS_AS(canary::read(r, back), std::out_of_range);
}

TEST_CASE("a vector of plain values replaces what the vector held, from aligned and unaligned pieces") {
  std::vector<std::int64_t> value(5000);
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<std::int64_t>(i * i) - 77;
  std::string bytes = bytes_of(value);
  std::string shifted = " " + bytes;  // the same bytes one past an aligned address
  for (std::string_view whole : {std::string_view(bytes), std::string_view(shifted).substr(1)}) {
    std::string_view pieces[] = {whole.substr(0, 8), whole.substr(8, 4001), whole.substr(4009)};
    canary::Reader r(pieces, 3);
    std::vector<std::int64_t> back{1, 2, 3};
    canary::read(r, back);
    CHECK(back == value);
    CHECK(r.remaining() == 0);
  }
}
