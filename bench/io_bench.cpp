// The io benchmark (bench/run io): a CSV of points, four numbers a line,
// read and parsed into partitions by a read stage; the sum and count of the
// numbers are reduced and output, to check against the baseline's.
#include <canary/dsl.h>

#include <array>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

struct Params {
  std::string input = "build/bench/points.csv";
  int partitions = 2;
};

using Point = std::array<double, 4>;
struct Sums {
  double sum = 0;
  long count = 0;
};

CANARY_JOB(io_bench, Params params) {
  auto points = canary::dataset<std::vector<Point>>("points", params.partitions);
  auto sums = canary::dataset<Sums>("sums", params.partitions);
  auto total = canary::dataset<Sums>("total", 1);
  canary::read("parse", canary::files(params.input), canary::writes(points, sums),
               [](canary::Task&, canary::Split& in, std::vector<Point>& p, Sums& s) {
                 p.reserve(in.bytes() / 40);
                 for (std::string_view line : in.lines()) {
                   Point x;
                   const char* at = line.data();
                   const char* end = at + line.size();
                   for (double& v : x) {
                     auto [next, error] = std::from_chars(at, end, v);
                     if (error != std::errc()) in.fail("not four comma-separated numbers");
                     at = next + 1;
                   }
                   p.push_back(x);
                   s.sum += x[0] + x[1] + x[2] + x[3];
                   ++s.count;
                 }
               });
  canary::reduce("add", sums, total, [](Sums& acc, const Sums& x) {
    acc.sum += x.sum;
    acc.count += x.count;
  });
  canary::transform("report", canary::reads(total), [](canary::Task& t, const Sums& s) {
    t.output("lines", s.count);
    t.output("sum", s.sum);
  });
}
