// controller --http: the job seen from a browser or a metrics scraper. From
// threads of its own it serves the graph viewer page (which polls the rest),
// the job's graph, its status as JSON and as Prometheus metrics. The
// controller publishes; a request reads the newest publication, so no
// request ever waits on the job, nor the job on a request.
//
//   /              the viewer page, live
//   /graph.json    the job's canary-graph/1 document
//   /status.json   canary-status/1 (docs/runtime.md); also /status
//   /metrics       Prometheus text format 0.0.4
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace canary::rt {

class StatusServer {
 public:
  // Serves on `address`: "PORT" (on 127.0.0.1) or "HOST:PORT"; port 0 takes
  // a free one. Says why when it cannot bind.
  static Result<std::unique_ptr<StatusServer>> start(std::string_view address, std::string graph_json);
  ~StatusServer();  // stops serving
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Where a browser finds it, e.g. http://127.0.0.1:8080/.
  std::string url() const;
  void publish(std::string status_json, std::string metrics);

 private:
  StatusServer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace canary::rt
