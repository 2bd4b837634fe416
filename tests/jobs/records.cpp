// Types that cross workers with no serialization code of the driver's:
// maps of strings, nested structs in namespaces and templates, a base class,
// a bit-field, optional, tuple, variant, deque and unordered containers, and
// a user's own Serializer inside a map. Words are shuffled to the partition
// hash_partition gives them; every partition summarises what it holds;
// outputs are structs and maps, shown as JSON objects.
#include <canary/dsl.h>

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

struct Params {
  int partitions = 4;
  int summaries = 3;
  int words = 200;
};

namespace text {
template <class T>
struct Span {
  T first{};
  T last{};
};
}  // namespace text

enum class Kind { Short = 1, Long = 2 };

// A series with its own serializer, which skips `cached` on the wire.
struct Series {
  std::vector<double> points;
  double cached = 0;
};
template <>
struct canary::Serializer<Series> {
  static void write(canary::Writer& w, const Series& s) { canary::write(w, s.points); }
  static void read(canary::Reader& r, Series& s) { canary::read(r, s.points); }
};

struct Labelled {
  std::string label;
};
struct Tally : Labelled {
  std::map<std::string, long> counts;
  std::optional<std::string> longest;
  std::variant<std::monostate, std::string> least;  // the first word in order; none yet
  std::tuple<int, std::string> first_word;
  text::Span<long> positions;
  Kind kind = Kind::Short;
  unsigned flags : 3;
  Tally() : flags(0) {}
};
struct Shelf {
  std::deque<std::string> order;
  std::unordered_map<int, Series> by_length;
  std::unordered_set<std::string> seen;
  std::variant<long, std::string> note;
  std::variant<std::monostate, long> unset;  // left empty
  std::set<std::pair<int, int>> lengths;
};

// Word number n of the text: a few hundred distinct words, some repeated.
std::string word_at(long n) { return "w" + std::to_string((n * 7919) % 97) + std::string(n % 3, 'x'); }

CANARY_JOB(records, Params params) {
  auto words = canary::dataset<std::vector<std::string>>("words", params.partitions);
  auto tallies = canary::dataset<Tally>("tallies", params.summaries);
  auto shelves = canary::dataset<Shelf>("shelves", params.summaries);
  auto total = canary::dataset<Tally>("total", 1);

  canary::transform("generate", canary::writes(words),
                    [params](canary::Task& t, std::vector<std::string>& w) {
                      auto [begin, end] = canary::range_of(t.index(), params.words, t.partitions());
                      for (long n = begin; n < end; ++n) w.push_back(word_at(n));
                    });
  canary::scatter("shuffle", canary::reads(words), canary::to(tallies),
                  [params](canary::Task&, const std::vector<std::string>& w, canary::Emit<Tally>& out) {
                    std::vector<Tally> to(params.summaries);
                    for (const std::string& word : w)
                      ++to[canary::hash_partition(word, params.summaries)].counts[word];
                    for (int p = 0; p < params.summaries; ++p) out.send(p, to[p]);
                  });
  canary::gather("tally", tallies, [](canary::Task& t, canary::Chunks<Tally>& in, Tally& mine) {
    mine.label = "part " + std::to_string(t.index());
    for (const Tally& c : in)
      for (const auto& [word, n] : c.counts) mine.counts[word] += n;
    if (!mine.counts.empty()) {
      mine.first_word = {static_cast<int>(mine.counts.begin()->first.size()), mine.counts.begin()->first};
      for (const auto& [word, n] : mine.counts)
        if (!mine.longest || word.size() > mine.longest->size()) mine.longest = word;
      mine.least = mine.counts.begin()->first;
    }
    mine.positions = {static_cast<long>(t.index()), static_cast<long>(mine.counts.size())};
    mine.kind = mine.counts.size() > 20 ? Kind::Long : Kind::Short;
    mine.flags = static_cast<unsigned>(mine.counts.size() % 8);
  });
  canary::transform("shelve", canary::reads(tallies), canary::writes(shelves),
                    [](canary::Task&, const Tally& tally, Shelf& s) {
                      for (const auto& [word, n] : tally.counts) {
                        s.order.push_front(word);
                        s.by_length[static_cast<int>(word.size())].points.push_back(static_cast<double>(n));
                        s.seen.insert(word);
                        s.lengths.insert({static_cast<int>(word.size()), static_cast<int>(n)});
                      }
                      if (tally.longest) {
                        s.note = *tally.longest;
                      } else {
                        s.note = 0L;
                      }
                    });
  canary::reduce("sum", tallies, total, [](Tally& acc, const Tally& x) {
    acc.label = "all";
    for (const auto& [word, n] : x.counts) acc.counts[word] += n;
  });
  canary::transform(
      "report", canary::reads(tallies, shelves), [](canary::Task& t, const Tally& tally, const Shelf& s) {
        t.output("tallies", tally);
        std::map<int, long> by_length;
        for (const auto& [length, series] : s.by_length)
          for (double n : series.points) by_length[length] += static_cast<long>(n);
        t.output("shelf", std::make_tuple(s.order.size(), by_length, s.note, s.lengths, s.seen, s.unset));
      });
  canary::transform("report_total", canary::reads(total), [](canary::Task& t, const Tally& all) {
    t.output("counts", all.counts);
    t.output("label", all.label);
  });
}
