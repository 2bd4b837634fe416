#include <canary/dsl.h>
#include <vector>
struct Params { int partitions = 4; };
struct Series { std::vector<double> points; };
template <>
struct canary::Serializer<Series> {
  static void write(canary::Writer& w, const Series& s) { canary::write(w, s.points); }
  static void read(canary::Reader& r, Series& s) { canary::read(r, s.points); }
};
CANARY_JOB(bad, Params params) {
  auto a = canary::dataset<Series>("a", params.partitions);
  canary::transform("init", canary::writes(a), [](canary::Task&, Series& s) { s.points = {1, 2}; });
  canary::transform("report", canary::reads(a), [](canary::Task& t, const Series& s) {
    t.output("series", s);  // expect-error: t.output takes a value Canary cannot show: 'Series' cannot cross workers: it has a hand-written canary::Serializer but no canary::Fields
  });
}
