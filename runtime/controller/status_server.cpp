#include "controller/status_server.h"

#include <httplib.h>

#include <mutex>
#include <thread>

#include "viewer.h"

namespace canary::rt {

struct StatusServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::string host;
  int port = 0;
  std::string graph_json;
  std::mutex mutex;  // guards what follows
  std::string status_json = "{}";
  std::string metrics;
};

StatusServer::StatusServer() : impl_(std::make_unique<Impl>()) {}

StatusServer::~StatusServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<StatusServer>> StatusServer::start(std::string_view address, std::string graph_json) {
  std::string host = "127.0.0.1", port_text(address);
  std::size_t colon = address.rfind(':');
  if (colon != std::string::npos) {
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535 || host.empty())
    return Status::error("--http wants PORT or HOST:PORT, got '" + std::string(address) + "'");
  std::unique_ptr<StatusServer> s(new StatusServer());
  Impl& impl = *s->impl_;
  impl.host = host;
  impl.graph_json = std::move(graph_json);
  // A few readers at a time are plenty; the library's default is a thread per core and more.
  impl.server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  // The library's default adds SO_REUSEPORT, with which a second server on
  // a taken port binds without a word and takes half its requests.
  impl.server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl.server.Get("/", [](const httplib::Request&, httplib::Response& r) {
    r.set_content(std::string(graph_viewer_html()), "text/html; charset=utf-8");
  });
  impl.server.Get("/graph.json", [&impl](const httplib::Request&, httplib::Response& r) {
    r.set_content(impl.graph_json, "application/json");
  });
  auto status = [&impl](const httplib::Request&, httplib::Response& r) {
    std::lock_guard<std::mutex> lock(impl.mutex);
    r.set_header("Cache-Control", "no-store");
    r.set_content(impl.status_json, "application/json");
  };
  impl.server.Get("/status.json", status);
  impl.server.Get("/status", status);
  impl.server.Get("/metrics", [&impl](const httplib::Request&, httplib::Response& r) {
    std::lock_guard<std::mutex> lock(impl.mutex);
    r.set_content(impl.metrics, "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    impl.port = impl.server.bind_to_any_port(host);
  } else if (impl.server.bind_to_port(host, static_cast<int>(port))) {
    impl.port = static_cast<int>(port);
  }
  if (impl.port <= 0) {
    return Status::error("--http: cannot listen on " + host + ":" + port_text +
                         " (is the port taken, or the host not this machine's?); give another, or 0 for any "
                         "free port");
  }
  impl.thread = std::thread([&impl] { impl.server.listen_after_bind(); });
  return {std::move(s)};
}

std::string StatusServer::url() const {
  std::string host = impl_->host == "0.0.0.0" ? "127.0.0.1" : impl_->host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

void StatusServer::publish(std::string status_json, std::string metrics) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->status_json = std::move(status_json);
  impl_->metrics = std::move(metrics);
}

}  // namespace canary::rt
