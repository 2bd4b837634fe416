#include "viewer.h"

namespace canary {

std::string graph_viewer_with(const std::string& graph_json) {
  static constexpr std::string_view kSlot = R"(<script id="canary-graph" type="application/json">)";
  std::string page(graph_viewer_html());
  std::size_t at = page.find(kSlot);
  if (at == std::string::npos) return page;
  // Inside a <script>, only "</" could end it early; JSON may write "<\/".
  std::string escaped;
  escaped.reserve(graph_json.size());
  for (std::size_t i = 0; i < graph_json.size(); ++i) {
    escaped += graph_json[i];
    if (graph_json[i] == '<' && i + 1 < graph_json.size() && graph_json[i + 1] == '/') escaped += '\\';
  }
  page.insert(at + kSlot.size(), escaped);
  return page;
}

}  // namespace canary
