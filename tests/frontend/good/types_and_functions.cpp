// Every kind of serializable dataset type, and every kind of stage function:
// lambdas held in local variables, plain functions, generic lambdas.
#include <canary/dsl.h>

#include <array>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

struct Params {
  int partitions = 2;
};

struct Plain {
  double x;
  std::array<int, 3> y;
};
enum class Color { Red, Green };
class Custom {
 public:
  std::vector<std::string> words;
};
template <>
struct canary::Serializer<Custom> {
  static void write(canary::Writer& w, const Custom& c) { canary::write(w, c.words); }
  static void read(canary::Reader& r, Custom& c) { canary::read(r, c.words); }
};
using Everything = std::tuple<std::map<std::string, std::vector<Plain>>, std::set<long>,
                              std::unordered_map<int, std::pair<Color, std::string>>, Custom>;

static void fill(canary::Task& t, Everything& e) { std::get<1>(e).insert(t.index()); }

CANARY_JOB(types_and_functions, Params params) {
  auto all = canary::dataset<Everything>("all", params.partitions);
  auto sizes = canary::dataset<long>("sizes", params.partitions);
  auto total = canary::dataset<long>("total", 1);
  auto measure = [](canary::Task&, const Everything& e, long& n) { n = std::get<1>(e).size(); };
  canary::transform("fill", canary::writes(all), fill);
  canary::transform("measure", canary::reads(all), canary::writes(sizes), measure);
  canary::reduce("sum", sizes, total, [](auto& acc, const auto& x) { acc += x; });
  canary::transform("report", canary::reads(total), [](canary::Task& t, const long& n) { t.output("total", n); });
}
