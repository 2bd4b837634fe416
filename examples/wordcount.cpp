// Word count over text files: each partition counts the words of its split of
// the input (a file, a directory or a glob; .gz files are decompressed), the
// counts are shuffled so that each word lands in the partition
// hash_partition gives it, summed, and written as `word<TAB>count` lines to
// part files of the output directory. Words are runs of bytes other than
// spaces and tabs.
//
//   tools/example wordcount --input=DIR --output=DIR
#include <canary/dsl.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

struct Params {
  std::string input = "build/wordcount/input";
  std::string output = "build/wordcount/output";
  int partitions = 4;
};

using Counts = std::map<std::string, long>;

CANARY_JOB(wordcount, Params params) {
  auto local = canary::dataset<Counts>("local", params.partitions);
  auto counts = canary::dataset<Counts>("counts", params.partitions);

  canary::read("count", canary::files(params.input), canary::writes(local),
               [](canary::Task&, canary::Split& in, Counts& words) {
                 for (std::string_view line : in.lines()) {
                   std::size_t at = 0;
                   while (at < line.size()) {
                     std::size_t begin = line.find_first_not_of(" \t", at);
                     if (begin == std::string_view::npos) break;
                     std::size_t end = line.find_first_of(" \t", begin);
                     if (end == std::string_view::npos) end = line.size();
                     ++words[std::string(line.substr(begin, end - begin))];
                     at = end;
                   }
                 }
               });
  canary::scatter("shuffle", canary::reads(local), canary::to(counts),
                  [](canary::Task& t, const Counts& words, canary::Emit<Counts>& out) {
                    std::vector<Counts> to(t.partitions());
                    for (const auto& [word, n] : words)
                      to[canary::hash_partition(word, t.partitions())][word] = n;
                    for (int p = 0; p < t.partitions(); ++p)
                      if (!to[p].empty()) out.send(p, to[p]);
                  });
  canary::gather("sum", counts, [](canary::Task&, canary::Chunks<Counts>& in, Counts& total) {
    for (const Counts& chunk : in)
      for (const auto& [word, n] : chunk) total[word] += n;
  });
  canary::write("save", canary::reads(counts), canary::files(params.output),
                [](canary::Task&, const Counts& total, canary::Sink& out) {
                  for (const auto& [word, n] : total) out.line(word + "\t" + std::to_string(n));
                });
}
