// Reads files of 12-byte records and writes each record's bytes back out, and
// outputs the sum of the records' first 8 bytes as integers.
#include <canary/dsl.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

struct Params {
  std::string input = "input";
  std::string output = "output";
  int partitions = 3;
};

CANARY_JOB(copy_records,
           Params params) {  // NOLINT(performance-unnecessary-value-param): the contract's signature
  auto records = canary::dataset<std::vector<std::string>>("records", params.partitions);
  auto sums = canary::dataset<long>("sums", params.partitions);
  auto total = canary::dataset<long>("total", 1);
  canary::read("load", canary::files(params.input, canary::records(12)), canary::writes(records, sums),
               [](canary::Task&, canary::Split& in, std::vector<std::string>& out, long& sum) {
                 sum = 0;
                 for (std::string_view r : in.records()) {
                   std::int64_t v;
                   std::memcpy(&v, r.data(), sizeof v);
                   sum += v;
                   out.emplace_back(r);
                 }
               });
  canary::reduce("add", sums, total, [](long& acc, const long& x) { acc += x; });
  canary::transform("report", canary::reads(total),
                    [](canary::Task& t, const long& s) { t.output("sum", s); });
  canary::write("save", canary::reads(records), canary::files(params.output),
                [](canary::Task&, const std::vector<std::string>& r, canary::Sink& out) {
                  for (const std::string& x : r) out.write(x.data(), x.size());
                });
}
