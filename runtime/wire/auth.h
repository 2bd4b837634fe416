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
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "core/result.h"

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

Status write_cluster_keys(const std::string& dir);
// The keys a controller (or a worker) reads from `dir`.
Result<ClusterKeys> read_cluster_keys(const std::string& dir, bool controller);

// For every socket that binds, with or without credentials: peers speaking
// ZMTP 1.0 or 2.0 (none of ours do) are cut off at their greeting. libzmq
// 4.3.4 aborts the whole process (zmtp_engine.cpp:446) when such a peer's
// routing id reaches a ROUTER that is closing, so random bytes thrown at a
// controller's port as its job ends could kill it. A ZAP domain is what
// makes libzmq refuse those protocols; with no ZAP handler in the context,
// ZMTP 3 peers still get in unchecked.
void admit_only_zmtp3_peers(zmq::socket_t& socket);

// What a process proves itself with and admits its peers by: a cluster's
// CURVE keys (--keys: authenticated and encrypted), or the embedded
// default's secret for one run (authenticated by ZeroMQ's PLAIN mechanism,
// not encrypted: its processes talk over loopback, which only the machine's
// administrator can watch, and encrypting every byte there would cost data-
// heavy jobs a third of their time for nothing).
class Credentials {
 public:
  static Credentials of_cluster(ClusterKeys keys);
  // A fresh secret for one run, or for its workers the one they were given.
  static Credentials for_run();
  static Credentials of_run(std::string secret);
  const std::string& run_secret() const { return run_secret_; }

  // A socket that binds and admits peers with these credentials (with an
  // Authenticator in its context), or one that connects to the controller
  // or to a worker.
  void serve(zmq::socket_t& socket) const;
  void connect_to_controller(zmq::socket_t& socket) const;
  void connect_to_worker(zmq::socket_t& socket) const;
  // ZAP: whether a peer with this mechanism and these credentials gets in.
  bool admits(const std::string& mechanism, const std::vector<std::string>& credentials) const;

 private:
  std::optional<ClusterKeys> keys_;  // CURVE
  std::string run_secret_;           // PLAIN, when no keys
};
// The environment variable through which the embedded default gives its
// worker processes the run's secret (readable only by the user's own
// processes, as a key file would be).
constexpr char kRunSecretVariable[] = "CANARY_RUN_SECRET";

// Answers ZAP for one ZeroMQ context, on a thread of its own: a peer the
// credentials admit gets in (with CURVE, one holding the workers' key);
// any other is refused and logged (the first few, then one in a thousand).
// Make it before binding a server socket in the context.
class Authenticator {
 public:
  Authenticator(zmq::context_t& context, Credentials credentials, std::string who);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

 private:
  void serve();

  zmq::socket_t handler_;
  Credentials credentials_;
  std::string who_;
  std::atomic<bool> stop_{false};
  int wake_fd_;  // an eventfd: the destructor wakes serve() at once, so a process exits without waiting
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
  // A peer that dies mid-handshake is not a stranger: each event says its own why.
  void on_event_handshake_failed_no_detail(const zmq_event_t&, const char* address) override {
    refused(address, "the handshake broke off (the peer went away, or it is not a Canary process)");
  }
  void on_event_handshake_failed_protocol(const zmq_event_t&, const char* address) override {
    refused(address, "its peer broke the handshake (it does not hold this cluster's keys, or is not Canary)");
  }
  void on_event_handshake_failed_auth(const zmq_event_t&, const char* address) override {
    refused(address, "its peer does not hold this cluster's keys");
  }
  void refused(const char* address, const char* why);

  std::string who_;
  long refused_ = 0;
};

// Whether a tcp:// endpoint binds to the loopback interface only.
bool is_loopback_endpoint(const std::string& endpoint);

}  // namespace canary::rt
