// Authentication of a cluster (DESIGN.md section 6, "Security"): ZeroMQ
// CURVE on every connection, control and data plane, and a ZAP handler that
// admits only peers holding the cluster's worker key.
//
// `JOB keygen DIR` writes the key material:
//   controller.key  the controller's keypair: only the controller needs it
//   worker.key      the workers' keypair: every worker needs it
//   controller.pub, worker.pub  their public halves
// The controller reads controller.key and worker.pub, a worker worker.key
// and controller.pub: `--keys DIR` with those files in DIR.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace canary::rt {

struct CurveKeyPair {
  std::string public_z85;
  std::string secret_z85;
};

// What one process of the cluster holds.
struct ClusterKeys {
  CurveKeyPair own;               // the controller's or the workers' keypair
  std::string controller_public;  // Z85
  std::string worker_public;      // Z85
};

// Both return an error, or "".
std::string write_cluster_keys(const std::string& dir);
std::string read_cluster_keys(const std::string& dir, bool controller, ClusterKeys& out);

// The embedded default's keys, made afresh for each run and never written
// to a file: the controller's side, and the workers', which the worker
// processes it starts take from the environment variable kRunKeysVariable
// (visible only to the user's own processes, like a key file).
struct RunKeys {
  ClusterKeys controller;
  ClusterKeys worker;
};
constexpr char kRunKeysVariable[] = "CANARY_RUN_KEYS";
std::string make_run_keys(RunKeys& out);
// A worker's keys as one line of text, and back.
std::string worker_keys_text(const ClusterKeys& worker);
std::string worker_keys_from_text(const std::string& text, ClusterKeys& out);

// `socket` serves with `keys.own` (it binds), or connects as a client with
// `keys.own` to a server whose public key is `server_public`.
void make_curve_server(zmq::socket_t& socket, const ClusterKeys& keys);
void make_curve_client(zmq::socket_t& socket, const ClusterKeys& keys, const std::string& server_public);

// Answers ZAP for one ZeroMQ context, on a thread of its own: a CURVE client
// whose public key is the workers' is admitted; any other is refused and
// logged (the first few, then one in a thousand). Make it before binding a
// CURVE server socket in the context.
class Authenticator {
 public:
  Authenticator(zmq::context_t& context, const std::string& allowed_public_z85, std::string who);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

 private:
  void serve();

  zmq::socket_t handler_;
  std::string allowed_;  // 32 bytes
  std::string who_;
  std::atomic<bool> stop_{false};
  long refused_ = 0;
  std::thread thread_;
};

// Logs the connections a CURVE server socket refused in the handshake (a
// peer without keys, or with another cluster's), which never reach ZAP:
// the first few, then one in a thousand. poll() from the socket's thread.
class RefusalLog : public zmq::monitor_t {
 public:
  RefusalLog(zmq::socket_t& socket, std::string who);
  void poll();

 private:
  void on_event_handshake_failed_no_detail(const zmq_event_t&, const char* address) override {
    refused(address);
  }
  void on_event_handshake_failed_protocol(const zmq_event_t&, const char* address) override {
    refused(address);
  }
  void on_event_handshake_failed_auth(const zmq_event_t&, const char* address) override { refused(address); }
  void refused(const char* address);

  std::string who_;
  long refused_ = 0;
};

// Whether a tcp:// endpoint binds to the loopback interface only.
bool is_loopback_endpoint(const std::string& endpoint);

}  // namespace canary::rt
