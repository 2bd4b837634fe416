// The job binary's command line, parsed for a Program whose parameters are
// given by hand: what each argument sets, and what is refused.
#include "job/command_line.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <map>
#include <regex>

#include "graph.h"

using namespace canary::rt;

namespace {

// The "parameters" of the Program below: every value set, by name.
using Seen = std::map<std::string, std::string>;

Program program_with(const std::string& params_json) {
  Program p;
  p.job = "flags";
  p.graph_json = R"({"params": )" + params_json + "}";
  p.set_param = [](void* params, const std::string& name, const std::string& value, std::string&) {
    (*static_cast<Seen*>(params))[name] = value;
    return true;
  };
  return p;
}

Status parse(const Program& program, std::vector<std::string> args, Flags& flags, Seen& seen) {
  args.insert(args.begin(), program.job);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parse_command_line(program, static_cast<int>(argv.size()), argv.data(), flags, &seen);
}

const char* kWordAndSwitch =
    R"([{"name": "word", "type": "string", "default": "w"}, {"name": "twice", "type": "bool", "default": false}])";

}  // namespace

TEST_CASE("--name= gives the empty value and leaves the next argument alone") {
  Program program = program_with(kWordAndSwitch);
  Flags flags;
  Seen seen;
  REQUIRE(parse(program, {"--word=", "--in-process"}, flags, seen).ok());
  CHECK(flags.mode == Mode::InProcess);
  CHECK(seen == Seen{{"word", ""}});

  Flags results;
  Status refused = parse(program, {"--results=", "--in-process"}, results, seen);
  CHECK(refused.why() == "--results needs a file name");
}

TEST_CASE("a bool parameter given bare is true and takes no argument after it") {
  Program program = program_with(kWordAndSwitch);
  Flags flags;
  Seen seen;
  REQUIRE(parse(program, {"--twice", "--word=a=b"}, flags, seen).ok());
  CHECK(seen == Seen{{"twice", "true"}, {"word", "a=b"}});
  Seen off;
  REQUIRE(parse(program, {"--twice=false"}, flags, off).ok());
  CHECK(off == Seen{{"twice", "false"}});
}

TEST_CASE("a parameter named like one of the binary's own flags is refused, not a crash") {
  for (const std::string& name : canary::compiler::job_binary_flags()) {
    CAPTURE(name);
    Program program = program_with(R"([{"name": ")" + name + R"(", "type": "int", "default": 3}])");
    Flags flags;
    Seen seen;
    Status refused = parse(program, {"--in-process"}, flags, seen);
    CHECK(refused.why() == "the job parameter '" + name + "' has the name of the flag --" + name +
                               " of every job binary: rename that field of the driver's parameter struct");
  }
}

// canaryc refuses such a parameter at its line, from its own list of the
// binary's flags: every flag the help shows that could be a field's name must
// be on it.
TEST_CASE("canaryc knows every flag of the job binary a parameter could clash with") {
  std::string help = help_text(program_with("[]"));
  const std::vector<std::string>& known = canary::compiler::job_binary_flags();
  std::regex flag("--([a-z][a-z0-9_-]*)");
  int seen = 0;
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[1];
    if (name.find('-') != std::string::npos) continue;  // not a C++ identifier
    CAPTURE(name);
    CHECK(std::find(known.begin(), known.end(), name) != known.end());
    ++seen;
  }
  CHECK(seen >= static_cast<int>(known.size()));
}

TEST_CASE("a number too large for its parameter says so, not that it is no number") {
  std::string error;
  long big = 0;
  CHECK_FALSE(parse_value("99999999999999999999", big, error));
  CHECK(error == "'99999999999999999999' is out of range for a long");
  CHECK_FALSE(parse_value("12abc", big, error));
  CHECK(error == "'12abc' is not an integer");
  int small = 0;
  CHECK_FALSE(parse_value("99999999999", small, error));
  CHECK(error == "'99999999999' is out of range for an int");
  CHECK_FALSE(parse_value("-99999999999999999999", small, error));
  CHECK(error == "'-99999999999999999999' is out of range for an int");
  CHECK(parse_value("-9223372036854775808", big, error));
  CHECK(big == LONG_MIN);
}

TEST_CASE("a count's arithmetic gives kUncountable for a division by zero or an overflow, never a trap") {
  auto count = [](long long v) { return CountValue(v); };
  CHECK((count(7) / count(2)).value() == 3);
  CHECK((count(7) % count(2)).value() == 1);
  CHECK((count(INT_MIN) / count(-1)).value() == 2147483648LL);  // an int would trap
  CHECK((count(7) / count(0)).value() == kUncountable);
  CHECK((count(7) % count(0)).value() == kUncountable);
  CHECK((count(LLONG_MAX) + count(1)).value() == kUncountable);
  CHECK((count(LLONG_MIN + 1) - count(2)).value() == kUncountable);
  CHECK((count(1LL << 32) * count(1LL << 32)).value() == kUncountable);
  // Once uncountable, always: no later step may turn it back into a number.
  CHECK(((count(7) / count(0)) * count(0)).value() == kUncountable);
  CHECK(((count(7) / count(0)) / count(-1)).value() == kUncountable);
}
