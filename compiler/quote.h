// A string as a double-quoted C/C++ (and Graphviz) literal.
#pragma once

#include <string>

namespace canary::compiler {

inline std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace canary::compiler
