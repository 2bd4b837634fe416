// Compiled jobs run as real processes; every answer is checked against a
// plain serial loop over the same data, written here independently of the
// runtime (sharing only the definition of t.seed(), which fixes the data).
#include <canary/program.h>
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "run_job.h"
#include "serial_reference.h"

using canary::rt::task_seed;
using namespace canary::testing;
namespace fs = std::filesystem;

TEST_CASE("logistic regression equals a serial loop, for several partition and thread counts") {
  for (int partitions : {1, 3, 8})
    for (int threads : {1, 2}) {
      CAPTURE(partitions);
      CAPTURE(threads);
      JobRun r = run_ok(CANARY_JOB_logistic_regression, {"--in-process", "--threads", std::to_string(threads),
                                                         "--partitions=" + std::to_string(partitions),
                                                         "--iterations=4", "--samples=3000", "--rate=0.5"});
      check_close(r.results["outputs"]["weights"], serial_logistic_regression(partitions, 4, 3000, 0.5));
      CHECK(r.results["stats"]["tasks"].get<long>() > 0);
    }
}

TEST_CASE("a hundred thousand partitions per dataset run on the embedded default, and equal a serial loop") {
  JobRun r = run_ok(CANARY_JOB_logistic_regression, {"--workers=2", "--threads=1", "--partitions=100000",
                                                     "--samples=100000", "--iterations=2"});
  check_close(r.results["outputs"]["weights"], serial_logistic_regression(100000, 2, 100000, 0.1));
  CHECK(r.results["stats"]["tasks"] == 700008);
}

TEST_CASE("the same inputs give bit-identical outputs whatever the thread count") {
  std::vector<std::string> args = {"--partitions=6", "--iterations=3", "--samples=2000"};
  auto with = [&](const char* threads) {
    std::vector<std::string> a = args;
    a.push_back(std::string("--threads=") + threads);
    a.emplace_back("--in-process");
    return run_ok(CANARY_JOB_logistic_regression, a).results["outputs"];
  };
  nlohmann::json one = with("1");
  CHECK(one == with("2"));
  CHECK(one == with("3"));
}

TEST_CASE("k-means (loop_while) equals a serial loop") {
  for (int partitions : {1, 4})
    for (int threads : {1, 2}) {
      CAPTURE(partitions);
      CAPTURE(threads);
      JobRun r = run_ok(CANARY_JOB_kmeans,
                        {"--threads", std::to_string(threads), "--partitions=" + std::to_string(partitions),
                         "--points=4000", "--clusters=4", "--max_iterations=30"});
      KmeansResult want = serial_kmeans(partitions, 4, 4000, 30, 1e-6);
      check_close(r.results["outputs"]["centroids"], want.centroids);
      CHECK(r.results["outputs"]["iterations"] == want.iterations);
      CHECK(want.iterations > 1);
    }
}

TEST_CASE("PageRank (scatter/gather across partitions) equals a serial loop") {
  for (int partitions : {1, 5})
    for (const char* where : {"--in-process", "--workers=2"}) {
      CAPTURE(partitions);
      CAPTURE(where);
      // Sums per target vertex before sending: added in another order than
      // the serial loop's, so equal within rounding.
      JobRun r =
          run_ok(CANARY_JOB_pagerank, {where, "--threads=2", "--partitions=" + std::to_string(partitions),
                                       "--vertices=3000", "--iterations=5"});
      std::vector<std::vector<double>> want = serial_pagerank(partitions, 5, 3000, 8, 0.85);
      const nlohmann::json& got = r.results["outputs"]["ranks"];
      REQUIRE(got.size() == want.size());
      for (std::size_t p = 0; p < want.size(); ++p) check_close(got[p], want[p]);
    }
}

TEST_CASE("loop_while, loop and if_ nested take the serial path") {
  for (const char* threads : {"1", "2"}) {
    JobRun r = run_ok(CANARY_JOB_control_flow,
                      {"--in-process", "--threads", threads, "--partitions=3", "--inner=2"});
    std::vector<double> cells = {0, 1, 2};
    int steps = 0;
    while (steps < 4) {
      for (int i = 0; i < 2; ++i) {
        double sum = 0;
        for (double c : cells) sum += c;
        for (double& c : cells) c = sum > 10 ? c / 2 : c * 3;
      }
      steps += 1;
    }
    if (steps % 2 == 1)
      for (double& c : cells) c += 1;
    check_close(r.results["outputs"]["cells"], cells);
  }
}

TEST_CASE("names with newlines, quotes and backslashes build, run and keep every byte") {
  JobRun r = run_ok(CANARY_JOB_odd_names, {"--in-process", "--threads=2"});
  CHECK(r.results["outputs"]["value"] == nlohmann::json::array({1, 2}));
  JobRun graph = run_job(CANARY_JOB_odd_names, {"--graph"});
  REQUIRE(graph.exit_code == 0);
  nlohmann::json g = nlohmann::json::parse(graph.out);
  CHECK(g["datasets"][0]["name"] == "values \"\xce\xb1\"\\");
  CHECK(g["stages"][0]["name"] == "fill\nint not_code = ; //\t\"");
  CHECK(g["stages"][1]["name"] == "report */ \\");
}

TEST_CASE("t.seed() and t.iteration() follow their definition") {
  JobRun a = run_ok(CANARY_JOB_seeds, {"--in-process", "--threads=2", "--partitions=3", "--rounds=2"});
  JobRun b = run_ok(CANARY_JOB_seeds, {"--workers=3", "--partitions=3", "--rounds=2"});
  CHECK(a.results["outputs"] == b.results["outputs"]);
  const nlohmann::json& seen = a.results["outputs"]["seen"];
  REQUIRE(seen.size() == 3);
  std::set<std::uint64_t> distinct;
  for (int p = 0; p < 3; ++p) {
    std::vector<std::uint64_t> want = {task_seed("first", p, {})};
    for (int round = 0; round < 2; ++round)
      for (int i = 0; i < 2; ++i) {
        want.push_back(task_seed("inner", p, {round, i}));
        want.push_back(i);
      }
    CHECK(seen[p].get<std::vector<std::uint64_t>>() == want);
    for (std::size_t k = 0; k < want.size(); k += 1 + (k > 0)) distinct.insert(want[k]);
  }
  CHECK(distinct.size() == 15);  // every (stage, partition, iterations) has its own seed
}

TEST_CASE("the job binary's command line") {
  SUBCASE("--graph prints the embedded stage graph") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--graph"});
    REQUIRE(r.exit_code == 0);
    nlohmann::json g = nlohmann::json::parse(r.out);
    CHECK(g["format"] == "canary-graph/1");
    CHECK(g["job"] == "kmeans");
  }
  SUBCASE("--help lists the parameters with their defaults") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--help"});
    CHECK(r.exit_code == 0);
    std::size_t at = r.out.find("--tolerance double");
    REQUIRE(at != std::string::npos);
    CHECK(r.out.substr(at, r.out.find('\n', at) - at).find("(default 1e-06)") != std::string::npos);
  }
  SUBCASE("an unknown flag is one clear line and a non-zero exit") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--colour=blue"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "kmeans: error: unknown flag '--colour'; see --help\n");
  }
  SUBCASE("a malformed value too") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--clusters=many"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "kmeans: error: --clusters: 'many' is not an integer\n");
  }
  SUBCASE("a partition count below one is refused, in one line from one process") {
    for (const char* mode : {"--in-process", "--workers=3"}) {
      JobRun r = run_job(CANARY_JOB_kmeans, {mode, "--partitions=0"});
      CHECK(r.exit_code == 2);
      CHECK(r.err ==
            "kmeans: error: dataset 'points' would have 0 partitions (its count is partitions); it needs "
            "from 1 "
            "to 1048576\n");
    }
  }
  SUBCASE("beyond the documented limit a partition count is refused at once, in one line") {
    JobRun r = run_job(CANARY_JOB_kmeans, {"--partitions=2147483647"});
    CHECK(r.exit_code == 2);
    CHECK(r.err ==
          "kmeans: error: dataset 'points' would have 2147483647 partitions (its count is partitions); it "
          "needs from 1 to 1048576\n");
  }
  SUBCASE("a negative loop count is refused in one line, from one process") {
    for (const char* mode : {"--in-process", "--workers=2"}) {
      JobRun r = run_job(CANARY_JOB_logistic_regression, {mode, "--iterations=-1"});
      CHECK(r.exit_code == 2);
      CHECK(
          r.err ==
          "logistic_regression: error: the loop at logistic_regression.cpp:49 would run -1 times (its count "
          "is iterations); it needs a count of 0 or more\n");
    }
  }
  SUBCASE("a loop count beyond an int's range is refused with its own value, not wrapped") {
    // 2^32 + 3 would wrap to 3 rounds in an int.
    JobRun r = run_job(CANARY_JOB_small_tasks, {"--in-process", "--rounds=4294967299"});
    CHECK(r.exit_code == 2);
    CHECK(r.err ==
          "small_tasks: error: the loop at small_tasks.cpp:14 would run 4294967299 times (its count is "
          "rounds / every); it needs a count of at most 2147483647\n");
  }
  SUBCASE("a count that divides by zero is refused in one line, not a SIGFPE") {
    JobRun r = run_job(CANARY_JOB_small_tasks, {"--in-process", "--every=0"});
    CHECK(r.exit_code == 2);
    CHECK(
        r.err ==
        "small_tasks: error: the loop at small_tasks.cpp:14 has no count (its count is rounds / every) with "
        "these parameters: it divides by zero or overflows 64 bits\n");
  }
  SUBCASE("a task that throws fails the job with one line") {
    JobRun r = run_job(CANARY_JOB_failing_task, {"--threads=2", "--in-process"});
    CHECK(r.exit_code == 1);
    CHECK(r.err == "failing_task: error: stage 'work', partition 2: partition 2 is bad\n");
    // Worker processes: the controller's line, said once.
    r = run_job(CANARY_JOB_failing_task, {"--threads=2", "--workers=2"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(": error: ") == r.err.rfind(": error: "));
    CHECK(r.err.find("failing_task: error: worker ") != std::string::npos);
    CHECK(r.err.find(": stage 'work', partition 2: partition 2 is bad\n") != std::string::npos);
  }
  SUBCASE("stats say how many tasks ran, per worker") {
    JobRun r = run_ok(CANARY_JOB_logistic_regression,
                      {"--in-process", "--partitions=4", "--iterations=2", "--samples=100"});
    const nlohmann::json& stats = r.results["stats"];
    // generate 4, init 1, per iteration: share 1+4, gradient 4, sum 4+1, step 1; report 1
    CHECK(stats["tasks"] == 4 + 1 + 2 * (5 + 4 + 5 + 1) + 1);
    CHECK(stats["tasks_per_worker"] == nlohmann::json::array({stats["tasks"]}));
    CHECK(stats["elapsed_s"].get<double>() > 0);
  }
}

TEST_CASE("command-line mistakes are refused at the start, in one line that names the flag") {
  auto refused = [](std::vector<std::string> args, const std::string& why) {
    std::string last = args.back();
    CAPTURE(last);
    JobRun r = finish_job(start_job(CANARY_JOB_kmeans, std::move(args), false));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "kmeans: error: " + why + "\n");
  };
  refused({"--results", ""}, "--results needs a file name");
  refused({"--results", "/no/such/dir/out.json"},
          "--results /no/such/dir/out.json: cannot write it: No such file or directory");
  refused({"controller", "--expect=1", "--listen", "tcp://127.0.0.1:99999"},
          "--listen tcp://127.0.0.1:99999: the port must be a number from 0 (any free port) to 65535, or *");
  refused({"controller", "--expect=1", "--listen", "tcp://127.0.0.1:-5"},
          "--listen tcp://127.0.0.1:-5: the port must be a number from 0 (any free port) to 65535, or *");
  refused({"controller", "--expect=1", "--listen", "127.0.0.1:7100"},
          "--listen 127.0.0.1:7100: expected tcp://HOST:PORT");
  refused({"worker", "--controller", "tcp://head"}, "--controller tcp://head: expected tcp://HOST:PORT");
  refused({"worker", "--controller", "tcp://head:0"},
          "--controller tcp://head:0: the port must be a number from 1 to 65535");
  refused({"--bogus", "--in-process"}, "unknown flag '--bogus'; see --help");
  refused({"--bogus", "3"}, "unknown flag '--bogus'; see --help");
  refused({"--in-process=yes"}, "--in-process takes no value");
  refused({"--threads"}, "--threads needs a value");
}

TEST_CASE("a results file is written whole at the end, and an existing one is left alone by a failed job") {
  std::string path = "/tmp/canary-results-" + std::to_string(getpid()) + ".json";
  {
    std::ofstream earlier(path);
    earlier << "earlier";
  }
  JobRun failed =
      finish_job(start_job(CANARY_JOB_failing_task, {"--in-process", "--results=" + path}, false));
  CHECK(failed.exit_code == 1);
  CHECK(slurp(path) == "earlier");
  JobRun ok = finish_job(start_job(CANARY_JOB_kmeans, {"--in-process", "--results=" + path}, false));
  CHECK(ok.exit_code == 0);
  CHECK(nlohmann::json::parse(slurp(path))["job"] == "kmeans");
  std::remove(path.c_str());
}

TEST_CASE(
    "--results through a symbolic link (dangling too), or to a pipe or the terminal, leaves the name as it "
    "was") {
  fs::path dir = fs::temp_directory_path() / ("canary-results-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto results_to = [](const fs::path& name) {
    return finish_job(start_job(CANARY_JOB_kmeans, {"--in-process", "--results=" + name.string()}, false));
  };
  // A link to a file: the file gets the results, the link stays a link.
  std::ofstream(dir / "real.json") << "earlier";
  fs::create_symlink(dir / "real.json", dir / "link.json");
  JobRun linked = results_to(dir / "link.json");
  CHECK(linked.exit_code == 0);
  CHECK(fs::is_symlink(dir / "link.json"));
  CHECK(nlohmann::json::parse(slurp((dir / "real.json").string()))["job"] == "kmeans");
  // A link to a file not made yet, through a relative link: the file is made.
  fs::create_symlink("later.json", dir / "dangling.json");
  fs::create_symlink("dangling.json", dir / "chain.json");
  JobRun dangling = results_to(dir / "chain.json");
  CHECK(dangling.exit_code == 0);
  CHECK(fs::is_symlink(dir / "chain.json"));
  CHECK(nlohmann::json::parse(slurp((dir / "later.json").string()))["job"] == "kmeans");
  // A link to the job's standard output (what /dev/stdout is): written
  // straight through it, as into /dev/null, where a rename would put a
  // file in the device's place.
  fs::create_symlink("/proc/self/fd/1", dir / "stdout");
  JobRun through = results_to(dir / "stdout");
  CHECK(through.exit_code == 0);
  CHECK(through.out.find("\"job\": \"kmeans\"") != std::string::npos);
  CHECK(through.out.find("centroids = ") != std::string::npos);  // the outputs, printed after
  CHECK(fs::is_symlink(dir / "stdout"));
  fs::remove_all(dir);
}

TEST_CASE("a scatter's combine function merges what one task sends one destination, in every mode") {
  const int partitions = 5, buckets = 3;
  const long values = 20000;
  std::vector<std::map<long, long>> expected(buckets);
  for (long i = 0; i < values; ++i) {
    long x = i * 7919 % 101;
    ++expected[canary::hash_partition(x, buckets)][x];
  }
  for (std::vector<std::string> mode :
       {std::vector<std::string>{"--in-process"}, {"--workers=2"}, {"--workers=3", "--chaos-migrate-ms=2"}}) {
    mode.insert(mode.end(), {"--partitions=" + std::to_string(partitions),
                             "--buckets=" + std::to_string(buckets), "--values=" + std::to_string(values)});
    JobRun r = run_ok(CANARY_JOB_combine, mode);
    for (int b = 0; b < buckets; ++b) {
      std::map<long, long> got;
      for (const auto& kv : r.results["outputs"]["histogram"][b]) got[kv[0].get<long>()] = kv[1].get<long>();
      CHECK(got == expected[b]);
      CHECK(r.results["outputs"]["chunks"][b] == partitions);  // one merged chunk from each sender
    }
  }
}
