// The graph viewer, loaded in headless Chromium: a page canaryc --emit=html
// wrote for a driver, and the bare page from tools/.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>

#include "browser.h"

using namespace canary::testing;

namespace {

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("canaryc --emit=html draws every stage, dataset and block of the driver") {
  const std::string driver = CANARY_SOURCE_DIR "/tests/frontend/good/control_flow.cpp";
  JobRun graph = finish_job(start_job(CANARY_CANARYC, {"--emit=graph", driver}, false));
  REQUIRE(graph.exit_code == 0);
  nlohmann::json g = nlohmann::json::parse(graph.out);
  JobRun page = finish_job(start_job(CANARY_CANARYC, {"--emit=html", driver}, false));
  REQUIRE(page.exit_code == 0);
  // Nothing to load from elsewhere: it opens offline.
  CHECK(page.out.find(" src=") == std::string::npos);
  CHECK(page.out.find("<link") == std::string::npos);
  CHECK(page.out.find("@import") == std::string::npos);
  std::string file = "/tmp/canary-viewer-" + std::to_string(getpid()) + ".html";
  std::ofstream(file) << page.out;

  std::string dom = page_dom("file://" + file);
  CHECK(count_of(dom, "class=\"stage\"") == static_cast<int>(g["stages"].size()));
  CHECK(count_of(dom, "class=\"block\"") == static_cast<int>(g["blocks"].size()));
  for (const auto& s : g["stages"]) {
    CAPTURE(s["name"]);
    CHECK(dom.find(">" + s["name"].get<std::string>() + "<") != std::string::npos);
    // Hovering a stage names where the driver says it.
    CHECK(dom.find("stage at " + s["loc"]["file"].get<std::string>() + ":" + s["loc"]["line"].dump() + ":" +
                   s["loc"]["column"].dump()) != std::string::npos);
  }
  for (const auto& d : g["datasets"]) CHECK(dom.find(d["name"].get<std::string>()) != std::string::npos);
  // One arc per data-dependency edge (self-edges within one stage aside).
  int edges = 0;
  for (const auto& e : g["edges"]) edges += e["from"] != e["to"] || e["crosses_iteration"] == true;
  CHECK(count_of(dom, "marker-end=") == edges);

  Screenshot shot = screenshot("file://" + file);
  REQUIRE(shot.read);
  CHECK(shot.colors > 20);
  CHECK(shot.not_background > 0.05);
  std::remove(file.c_str());
}

TEST_CASE("the bare viewer page asks for a graph file") {
  std::string dom = page_dom("file://" CANARY_SOURCE_DIR "/tools/graph-viewer.html");
  CHECK(dom.find("Drop a stage graph JSON here") != std::string::npos);
  CHECK(std::regex_search(dom, std::regex("<main id=\"view\" hidden")));
}
