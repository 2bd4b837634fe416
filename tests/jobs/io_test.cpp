// Read and write stages over files (DESIGN.md section 4.1), end to end: the
// part files hold exactly the lines (or records) a plain loop here reads from
// the same files, in every mode, while partitions migrate, and after a failed
// run; bad paths and malformed input end with one line naming the file.
#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "run_job.h"

using namespace canary::testing;
namespace fs = std::filesystem;

namespace {

const std::string kCopyLines = CANARY_JOB_copy_lines;
const std::string kCopyRecords = CANARY_JOB_copy_records;
const std::string kWordcount = CANARY_JOB_wordcount;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("canary-io-" + std::to_string(getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gzip(const fs::path& path, const std::string& bytes) {
  gzFile out = gzopen(path.c_str(), "wb");
  REQUIRE(out);
  gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(out);
}

// The contract's lines of a file's bytes, by a plain loop: split at '\n', a
// '\r' right before it dropped, no extra line after a final '\n'.
std::vector<std::string> lines_of(const std::string& bytes) {
  std::vector<std::string> out;
  std::string line;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') {
      line += bytes[i];
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
    line.clear();
  }
  if (!line.empty()) out.push_back(line);
  return out;
}

// What a committed output directory holds: the part files' lines in order,
// after checking _SUCCESS lists exactly them with their sizes.
std::vector<std::string> committed_lines(const fs::path& dir, int partitions) {
  REQUIRE(fs::exists(dir / "_SUCCESS"));
  CHECK_FALSE(fs::exists(dir / "_temporary"));
  nlohmann::json success = nlohmann::json::parse(slurp((dir / "_SUCCESS").string()));
  REQUIRE(success["files"].size() == static_cast<std::size_t>(partitions));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  CHECK(names.size() == static_cast<std::size_t>(partitions) + 1);
  std::string all;
  for (int i = 0; i < partitions; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "part-%05d", i);
    const nlohmann::json& f = success["files"][i];
    CHECK(f["name"] == name);
    std::string bytes = slurp((dir / name).string());
    CHECK(f["bytes"].get<std::size_t>() == bytes.size());
    all += bytes;
  }
  return lines_of(all);
}

// A directory of text files of very different sizes and shapes, and the
// lines a plain loop reads from them in name order (hidden and _ files skipped).
std::vector<std::string> make_text_input(const fs::path& dir) {
  std::map<std::string, std::string> files;
  files["a-crlf.txt"] = "first\r\nsecond\r\n\r\nlone\rcr stays\r\n";
  files["b-no-final-newline.txt"] = "x\ny\nlast without newline";
  files["c-empty-lines.txt"] = "\n\n\nafter three empty\n\n";
  std::string big, utf8;
  for (int i = 0; i < 3000; ++i) big += "line " + std::to_string(i) + " " + std::string(i % 17, 'z') + "\n";
  for (int i = 0; i < 400; ++i) utf8 += "ÿé€😀 " + std::to_string(i) + "\n";  // 2-, 3- and 4-byte characters
  files["d-big.txt"] = big;
  files["e-utf8.txt"] = utf8;
  files["f-one-line.txt"] = "only";
  files["g-empty.txt"] = "";
  std::vector<std::string> expected;
  for (const auto& [name, bytes] : files) {
    write_file(dir / name, bytes);
    for (std::string& l : lines_of(bytes)) expected.push_back(l);
  }
  std::string zipped = "gz one\ngz two\r\n\ngz four";
  write_gzip(dir / "h-zipped.gz", zipped);
  for (std::string& l : lines_of(zipped)) expected.push_back(l);
  write_file(dir / ".hidden", "never read\n");
  write_file(dir / "_ignored", "never read\n");
  return expected;
}

JobRun copy_lines(const std::vector<std::string>& mode, const fs::path& in, const fs::path& out,
                  int partitions, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = mode;
  args.insert(args.end(), {"--input=" + in.string(), "--output=" + out.string(),
                           "--partitions=" + std::to_string(partitions)});
  args.insert(args.end(), extra.begin(), extra.end());
  return run_job(kCopyLines, args);
}

}  // namespace

TEST_CASE("read and write stages copy a directory of text files line for line, in every mode") {
  fs::path dir = fresh_dir("modes"), in = dir / "in", out = dir / "out";
  fs::create_directories(in);
  std::vector<std::string> expected = make_text_input(in);
  const std::vector<std::vector<std::string>> modes = {
      {"--in-process"}, {}, {"--workers", "3", "--threads", "2", "--chaos-migrate-ms=2"}};
  for (const auto& mode : modes)
    for (int partitions : {1, 4, 9}) {
      CAPTURE(partitions);
      CAPTURE(mode.empty() ? std::string("default") : mode[0]);
      JobRun r = copy_lines(mode, in, out, partitions, {"--iterations=3"});
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      CHECK(committed_lines(out, partitions) == expected);
    }
  fs::remove_all(dir);
}

TEST_CASE("every split boundary, on a newline or inside a character, gives each line to exactly one split") {
  fs::path dir = fresh_dir("boundaries"), in = dir / "in.txt", out = dir / "out";
  std::string bytes = "ab\n\ncd\r\nééé\nx\n€€\n\n\nlast";
  write_file(in, bytes);
  for (int partitions = 1; partitions <= 40; partitions += (partitions < 16 ? 1 : 8)) {  // more than lines
    CAPTURE(partitions);
    JobRun r = copy_lines({"--in-process", "--threads=2"}, in, out, partitions);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(committed_lines(out, partitions) == lines_of(bytes));
  }
  fs::remove_all(dir);
}

TEST_CASE("a glob reads its matches in name order") {
  fs::path dir = fresh_dir("glob"), out = dir / "out";
  write_file(dir / "2.log", "two\n");
  write_file(dir / "1.log", "one\n");
  write_file(dir / "3.txt", "not matched\n");
  JobRun r = copy_lines({"--in-process"}, dir / "*.log", out, 2);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(committed_lines(out, 2) == std::vector<std::string>{"one", "two"});
  fs::remove_all(dir);
}

TEST_CASE("Split::fail names the file and the line, counted from the file's start across splits") {
  fs::path dir = fresh_dir("fail"), in = dir / "in", out = dir / "out";
  fs::create_directories(in);
  make_text_input(in);
  JobRun good = copy_lines({"--in-process"}, in, out, 5);
  REQUIRE(good.exit_code == 0);
  std::string before = slurp((out / "_SUCCESS").string()), part = slurp((out / "part-00000").string());
  // "line 2345 ..." is line 2346 of d-big.txt, far into a later split.
  std::string bad = "line 2345 " + std::string(2345 % 17, 'z');
  for (const std::vector<std::string>& mode : {std::vector<std::string>{"--in-process"}, {}}) {
    JobRun r = copy_lines(mode, in, out, 5, {"--bad=" + bad});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find((in / "d-big.txt").string() + ":2346: a bad line") != std::string::npos);
    // A failed run leaves the earlier output as it was, and nothing of its own.
    CHECK(slurp((out / "_SUCCESS").string()) == before);
    CHECK(slurp((out / "part-00000").string()) == part);
    CHECK_FALSE(fs::exists(out / "_temporary"));
  }
  fs::remove_all(dir);
}

TEST_CASE("a commit that fails leaves no part files of the run behind, in every mode") {
  fs::path dir = fresh_dir("uncommitted"), in = dir / "in.txt", out = dir / "out";
  write_file(in, "a\nb\n");
  // A directory where the first part file goes: the rename onto it fails.
  fs::create_directories(out / "part-00000" / "kept");
  for (const std::vector<std::string>& mode : {std::vector<std::string>{"--in-process"}, {}}) {
    JobRun r = copy_lines(mode, in, out, 2);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("cannot be committed") != std::string::npos);
    CHECK_FALSE(fs::exists(out / "_temporary"));
    CHECK(fs::exists(out / "part-00000" / "kept"));
  }
  fs::remove_all(dir);
}

TEST_CASE("fewer partitions than the last run: the output holds only this run's part files") {
  fs::path dir = fresh_dir("shrink"), in = dir / "in.txt", out = dir / "out";
  write_file(in, "a\nb\nc\nd\n");
  REQUIRE(copy_lines({"--in-process"}, in, out, 6).exit_code == 0);
  REQUIRE(copy_lines({"--in-process"}, in, out, 2).exit_code == 0);
  CHECK(committed_lines(out, 2) == std::vector<std::string>{"a", "b", "c", "d"});
  fs::remove_all(dir);
}

TEST_CASE("bad paths are refused before any task runs, with one line naming the path and the stage") {
  fs::path dir = fresh_dir("paths"), out = dir / "out";
  write_file(dir / "file", "x\n");
  fs::create_directories(dir / "empty");
  struct Case {
    fs::path in, out;
    std::string says;
  } cases[] = {
      {dir / "missing", out, "input '" + (dir / "missing").string() + "' of stage 'load' does not exist"},
      {dir / "*.nothing", out, "of stage 'load' matches no file"},
      {dir / "empty", out, "of stage 'load' is a directory without files"},
      {dir / "file", dir / "file" / "sub",
       "output '" + (dir / "file" / "sub").string() + "' of stage 'save'"},
  };
  for (const Case& c : cases)
    for (const std::vector<std::string>& mode : {std::vector<std::string>{"--in-process"}, {}}) {
      CAPTURE(c.says);
      JobRun r = copy_lines(mode, c.in, c.out, 2);
      CHECK(r.exit_code == 2);
      CHECK(r.err.find(c.says) != std::string::npos);
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      CHECK(r.err.find("started") == std::string::npos);  // no worker was started
    }
  fs::remove_all(dir);
}

TEST_CASE("fixed-size records are cut at record boundaries; a file that is not whole records is refused") {
  fs::path dir = fresh_dir("records"), in = dir / "in", out = dir / "out";
  fs::create_directories(in);
  std::string all;
  std::int64_t sum = 0;
  int next = 0, files = 0;
  for (int records : {1, 50, 7, 300}) {
    std::string bytes;
    for (int i = 0; i < records; ++i) {
      std::int64_t v = next * 1000003LL % 7919;
      char record[12];
      std::memcpy(record, &v, 8);
      std::memcpy(record + 8, &next, 4);
      bytes.append(record, 12);
      sum += v;
      ++next;
    }
    write_file(in / ("f" + std::to_string(files++)), bytes);  // f0 to f3: name order is this order
    all += bytes;
  }
  for (int partitions : {1, 3, 8}) {
    JobRun r = run_job(kCopyRecords, {"--workers=2", "--input=" + in.string(), "--output=" + out.string(),
                                      "--partitions=" + std::to_string(partitions)});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.results["outputs"]["sum"] == sum);
    std::string copied;
    for (int i = 0; i < partitions; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "part-%05d", i);
      copied += slurp((out / name).string());
    }
    CHECK(copied == all);
  }
  write_file(in / "torn", std::string(13, 'x'));
  JobRun torn = run_job(kCopyRecords, {"--input=" + in.string(), "--output=" + out.string()});
  CHECK(torn.exit_code == 2);
  CHECK(torn.err.find((in / "torn").string() + "' of 13 bytes, not a multiple of its 12-byte records") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("wordcount counts the words of a directory of text and gzip files as a plain loop does") {
  fs::path dir = fresh_dir("wordcount"), in = dir / "in", out = dir / "out";
  fs::create_directories(in);
  std::map<std::string, long> expected;
  for (int f = 0; f < 5; ++f) {
    std::string text;
    for (int i = 0; i < 200 * (f + 1) * (f + 1); ++i) {
      std::string word = "w" + std::to_string((i * 31 + f) % 97);
      text += word + (i % 7 == 0 ? "\r\n" : i % 5 == 0 ? "\t" : " ");
      ++expected[word];
    }
    if (f == 2) {
      write_gzip(in / ("part" + std::to_string(f) + ".gz"), text);
    } else {
      write_file(in / ("part" + std::to_string(f) + ".txt"), text);
    }
  }
  JobRun r = run_job(kWordcount,
                     {"--workers=2", "--input=" + in.string(), "--output=" + out.string(), "--partitions=3"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, long> counted;
  for (const std::string& line : committed_lines(out, 3)) {
    std::size_t tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    CHECK(counted.count(line.substr(0, tab)) == 0);  // each word in one part file, once
    counted[line.substr(0, tab)] = std::stol(line.substr(tab + 1));
  }
  CHECK(counted == expected);
  fs::remove_all(dir);
}

TEST_CASE("PageRank over an edge list file writes the ranks a serial loop computes") {
  fs::path dir = fresh_dir("pagerank"), edges = dir / "edges.txt", out = dir / "ranks";
  const long vertices = 500;
  const int iterations = 6;
  const double damping = 0.85;
  std::vector<std::vector<long>> adjacency(vertices);
  std::string text = "# a random graph\n\n";
  std::uint64_t state = 12345;
  for (long v = 0; v < vertices; ++v) {
    int degree = v % 11 == 0 ? 0 : static_cast<int>(v % 5) + 1;  // some vertices give nothing away
    for (int e = 0; e < degree; ++e) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      long to = static_cast<long>((state >> 33) % vertices);
      adjacency[v].push_back(to);
      text += std::to_string(v) + (e % 2 ? "\t" : " ") + std::to_string(to) + "\n";
    }
    if (v == 250) text += "   # a comment in the middle\r\n";
  }
  write_file(edges, text);
  std::vector<double> rank(vertices, 1.0 / vertices);
  for (int it = 0; it < iterations; ++it) {
    std::vector<double> sum(vertices, 0.0);
    for (long v = 0; v < vertices; ++v) {
      if (adjacency[v].empty()) sum[v] += rank[v];
      for (long to : adjacency[v]) sum[to] += rank[v] / static_cast<double>(adjacency[v].size());
    }
    for (long v = 0; v < vertices; ++v) rank[v] = (1 - damping) / vertices + damping * sum[v];
  }
  std::vector<std::string> args = {"--edges=" + edges.string(), "--output=" + out.string(),
                                   "--vertices=" + std::to_string(vertices), "--partitions=3",
                                   "--iterations=" + std::to_string(iterations)};
  JobRun r = run_job(CANARY_JOB_pagerank_files, args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> lines = committed_lines(out, 3);
  REQUIRE(lines.size() == static_cast<std::size_t>(vertices));
  for (long v = 0; v < vertices; ++v) {
    std::size_t tab = lines[v].find('\t');
    CHECK(std::stol(lines[v].substr(0, tab)) == v);
    CHECK(std::stod(lines[v].substr(tab + 1)) == doctest::Approx(rank[v]).epsilon(1e-12));
  }
  write_file(edges, "1 2\n3 x\n");
  JobRun bad = run_job(CANARY_JOB_pagerank_files, args);
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find(edges.string() + ":2: expected two vertex ids from 0 to 499") != std::string::npos);
  fs::remove_all(dir);
}
