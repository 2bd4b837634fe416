// canaryc's command line.
#include "options.h"

#include <doctest/doctest.h>

using namespace canary::compiler;

namespace {
std::optional<Options> parse(const std::vector<std::string>& args, std::string* error_out = nullptr) {
  std::string error;
  auto o = parse_options(args, error);
  if (error_out) *error_out = error;
  return o;
}
}  // namespace

TEST_CASE("compiler-style flags, joined or separate") {
  auto o = parse(
      {"-I", "inc", "-Iinc2", "-DN=3", "-D", "M", "-std=c++20", "d.cpp", "-o", "out/job", "--", "-Wall"});
  REQUIRE(o);
  CHECK(o->frontend.driver == "d.cpp");
  CHECK(o->output == "out/job");
  CHECK(o->emit == Emit::Build);
  CHECK(o->frontend.clang_args ==
        std::vector<std::string>{"-Iinc", "-Iinc2", "-DN=3", "-DM", "-std=c++20", "-Wall"});
}

TEST_CASE("the output defaults to the driver's name") {
  auto o = parse({"examples/kmeans.cpp"});
  REQUIRE(o);
  CHECK(o->output == "kmeans");
}

TEST_CASE("--emit and -p") {
  auto o = parse({"--emit=dot", "-p", "build", "d.cpp"});
  REQUIRE(o);
  CHECK(o->emit == Emit::Dot);
  CHECK(o->frontend.build_dir == "build");
  CHECK(parse({"--emit=graph", "d.cpp"})->emit == Emit::Graph);
  CHECK(parse({"--emit=html", "d.cpp"})->emit == Emit::Html);
}

TEST_CASE("-MD asks for a dependency file, and only beside a job") {
  CHECK(parse({"-MD", "d.cpp"})->depfile);
  CHECK_FALSE(parse({"d.cpp"})->depfile);
  std::string error;
  CHECK_FALSE(parse({"-MD", "--emit=graph", "d.cpp"}, &error));
  CHECK(error.find("-MD writes OUT.d") == 0);
}

TEST_CASE("bad command lines say what is wrong") {
  std::string error;
  CHECK_FALSE(parse({"--frobnicate", "d.cpp"}, &error));
  CHECK(error == "unknown argument '--frobnicate'; see canaryc --help");
  CHECK_FALSE(parse({"--emit=pdf", "d.cpp"}, &error));
  CHECK(error.find("unknown --emit kind 'pdf'") == 0);
  CHECK_FALSE(parse({}, &error));
  CHECK(error == "no driver file given; see canaryc --help");
  CHECK_FALSE(parse({"a.cpp", "b.cpp"}, &error));
  CHECK(error == "one driver file at a time, got 2");
  CHECK_FALSE(parse({"d.cpp", "-o"}, &error));
  CHECK(error == "missing value after '-o'");
}
