// A string as a double-quoted C/C++ (and Graphviz) literal.
#pragma once

#include <cstdio>
#include <string>

namespace canary::compiler {

// Control characters become escapes, so a name can go into a generated
// `//` comment too without ending it (a newline would start a line of code).
inline std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      char octal[5];  // three digits always: a digit after it stays a character
      std::snprintf(octal, sizeof octal, "\\%03o", byte);
      out += octal;
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace canary::compiler
