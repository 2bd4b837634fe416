// json_contains EXPECTED ACTUAL: exits 0 when ACTUAL holds everything EXPECTED
// says. Objects match when every expected key matches (extra keys are fine);
// arrays must have the same length and match element by element; scalars must
// be equal. Prints the first difference with its JSON path.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

bool contains(const json& want, const json& got, const std::string& path) {
  if (want.is_object()) {
    if (!got.is_object()) {
      std::cerr << path << ": expected an object, got " << got.dump() << "\n";
      return false;
    }
    for (const auto& [key, value] : want.items()) {
      if (!got.contains(key)) {
        std::cerr << path << ": missing key '" << key << "'\n";
        return false;
      }
      if (!contains(value, got[key], path + "." + key)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!got.is_array() || got.size() != want.size()) {
      std::cerr << path << ": expected " << want.size() << " elements, got " << got.dump() << "\n";
      return false;
    }
    for (std::size_t i = 0; i < want.size(); ++i)
      if (!contains(want[i], got[i], path + "[" + std::to_string(i) + "]")) return false;
    return true;
  }
  if (want != got) {
    std::cerr << path << ": expected " << want.dump() << ", got " << got.dump() << "\n";
    return false;
  }
  return true;
}

json load(const char* path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  return json::parse(in);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: json_contains EXPECTED ACTUAL\n";
    return 2;
  }
  try {
    return contains(load(argv[1]), load(argv[2]), "$") ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "json_contains: " << e.what() << "\n";
    return 2;
  }
}
