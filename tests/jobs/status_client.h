// Reads a controller's --http endpoints (status_server.h) over real HTTP,
// as the page and a metrics scraper do.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace canary::testing {

struct StatusClient {
  std::string host;
  int port;

  // The body of `path`, or "" when it cannot be had.
  std::string get(const std::string& path) const {
    httplib::Client client(host, port);
    auto response = client.Get(path.c_str());
    return response && response->status == 200 ? response->body : "";
  }
  nlohmann::json status() const {
    std::string body = get("/status.json");
    return body.empty() ? nlohmann::json() : nlohmann::json::parse(body);
  }
  // Polls the status until `ready` says yes; fails the test after `seconds`.
  template <class Ready>
  nlohmann::json await(Ready ready, double seconds = 30) const {
    nlohmann::json s;
    for (auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
         std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
      s = status();
      if (!s.is_null() && ready(s)) return s;
    }
    FAIL("the status never got there; the last one: " << s.dump());
    return s;
  }
};

}  // namespace canary::testing
