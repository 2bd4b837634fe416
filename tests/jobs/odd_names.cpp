// Names holding what C++ and JSON treat specially: a newline, quotes, a
// backslash, a tab, a comment's end and non-ASCII text. canaryc writes names
// into generated code, in string literals and in comments: none may end
// either early (a newline in a comment once made the rest of a name code).
#include <canary/dsl.h>

struct Params {
  int partitions = 2;
};

CANARY_JOB(odd_names, Params params) {
  auto values = canary::dataset<int>("values \"\xce\xb1\"\\", params.partitions);
  canary::transform("fill\nint not_code = ; //\t\"", canary::writes(values),
                    [](canary::Task& t, int& v) { v = t.index() + 1; });
  canary::transform("report */ \\", canary::reads(values),
                    [](canary::Task& t, const int& v) { t.output("value", v); });
}
