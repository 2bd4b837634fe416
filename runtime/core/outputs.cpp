#include "core/outputs.h"

namespace canary::rt {

void Outputs::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  values_.clear();
  stage_of_.clear();
}

void Outputs::add(Entry entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  Values& v = values_[entry.key];
  v.list = !program_.stages[entry.stage.value()].partitions_is_one;
  stage_of_.insert_or_assign(entry.key, entry.stage);
  auto [it, fresh] = v.by_index.try_emplace(entry.index, entry.seq, entry.json);
  if (!fresh && it->second.first <= entry.seq) it->second = {entry.seq, std::move(entry.json)};
}

std::string Outputs::to_json() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{";
  for (const auto& [key, v] : values_) {
    if (out.size() > 1) out += ", ";
    detail::append_json_string(out, key);
    out += ": ";
    if (!v.list) {
      out += v.by_index.begin()->second.second;
      continue;
    }
    out += "[";
    int next = 0;
    for (const auto& [index, value] : v.by_index) {
      for (; next < index; ++next) out += next ? ", null" : "null";  // partitions that said nothing
      out += next++ ? ", " : "";
      out += value.second;
    }
    out += "]";
  }
  return out + "}";
}

std::vector<Outputs::Entry> Outputs::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Entry> out;
  for (const auto& [key, v] : values_)
    for (const auto& [index, value] : v.by_index)
      out.push_back({key, stage_of_.at(key), index, value.first, value.second});
  return out;
}

}  // namespace canary::rt
