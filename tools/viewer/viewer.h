// The graph viewer page (tools/graph-viewer.html), compiled into canaryc,
// which embeds a driver's graph in it (--emit=html), and into the
// controller, which serves it with the job's live status (--http).
#pragma once

#include <string>
#include <string_view>

namespace canary {

// The page as it is in tools/, with no graph: it asks for a file, or, served
// over HTTP, fetches graph.json and status.json beside it.
std::string_view graph_viewer_html();

// The page with `graph_json` (a canary-graph/1 document) inside it, to open
// from disk with no server.
std::string graph_viewer_with(const std::string& graph_json);

}  // namespace canary
