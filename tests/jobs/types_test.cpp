// Generated serialization end to end (issue 17): a driver whose datasets are
// maps of strings, structs in namespaces and templates, optionals, tuples,
// variants and a user's own serializer runs in every mode, across workers
// and while partitions migrate, to the outputs a plain loop computes here.
#include <canary/dsl.h>
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "run_job.h"

using namespace canary::testing;

namespace {

std::string word_at(long n) { return "w" + std::to_string((n * 7919) % 97) + std::string(n % 3, 'x'); }

// The job's outputs, by a serial loop over the same words.
nlohmann::json serial_records(int partitions, int summaries, int words) {
  (void)partitions;  // where the words start does not change where they end up
  std::vector<std::map<std::string, long>> counts(summaries);
  std::map<std::string, long> all;
  for (long n = 0; n < words; ++n) {
    std::string w = word_at(n);
    ++counts[canary::hash_partition(w, summaries)][w];
    ++all[w];
  }
  nlohmann::json tallies = nlohmann::json::array(), shelves = nlohmann::json::array();
  for (int p = 0; p < summaries; ++p) {
    const auto& c = counts[p];
    nlohmann::json tally = {{"label", "part " + std::to_string(p)},
                            {"counts", c},
                            {"longest", nullptr},
                            {"least", nullptr},
                            {"first_word", {0, ""}},
                            {"positions", {{"first", p}, {"last", c.size()}}},
                            {"kind", c.size() > 20 ? 2 : 1},
                            {"flags", c.size() % 8}};
    std::string longest;
    std::map<int, long> by_length;
    std::set<std::pair<int, int>> lengths;
    for (const auto& [w, n] : c) {
      if (w.size() > longest.size()) longest = w;
      by_length[static_cast<int>(w.size())] += n;
      lengths.insert({static_cast<int>(w.size()), static_cast<int>(n)});
    }
    nlohmann::json seen = nlohmann::json::array(), by = nlohmann::json::array(),
                   len = nlohmann::json::array();
    for (const auto& [w, n] : c) seen.push_back(w);
    for (const auto& [l, n] : by_length) by.push_back({l, n});
    for (const auto& [l, n] : lengths) len.push_back({l, n});
    if (!c.empty()) {
      tally["longest"] = longest;
      tally["least"] = c.begin()->first;
      tally["first_word"] = {c.begin()->first.size(), c.begin()->first};
    }
    tallies.push_back(tally);
    nlohmann::json note = c.empty() ? nlohmann::json(0) : nlohmann::json(longest);
    shelves.push_back({c.size(), by, note, len, seen, nullptr});
  }
  return {{"tallies", tallies}, {"shelf", shelves}, {"counts", all}, {"label", "all"}};
}

}  // namespace

TEST_CASE("structs, maps of strings, optionals, tuples and variants cross workers with no user code") {
  nlohmann::json want = serial_records(5, 3, 300);
  for (std::vector<std::string> mode : {std::vector<std::string>{"--in-process"},
                                        {"--in-process", "--workers=3", "--threads=1"},
                                        {"--workers=2"},
                                        {"--workers=3", "--threads=2"},
                                        {"--workers=3", "--chaos-migrate-ms=2", "--chaos-seed=5"}}) {
    std::string label = mode.back();
    CAPTURE(label);
    mode.insert(mode.end(), {"--partitions=5", "--summaries=3", "--words=300"});
    JobRun r = run_job(CANARY_JOB_records, mode);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.results["outputs"] == want);
  }
}
