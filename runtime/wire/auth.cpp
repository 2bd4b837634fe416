#include "wire/auth.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace canary::rt {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kZ85KeyChars = 40;
constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";  // fixed by ZeroMQ's ZAP (RFC 27)

bool valid_z85_key(const std::string& key) {
  std::uint8_t bytes[32];
  return key.size() == kZ85KeyChars && zmq_z85_decode(bytes, key.c_str()) != nullptr;
}

// `path` holds the given lines; secret keys are for the owner's eyes only.
Status write_lines(const fs::path& path, const std::vector<std::string>& lines, bool secret) {
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : lines) out << line << "\n";
  out.close();
  if (!out) return Status::error("cannot write " + path.string());
  if (secret && ::chmod(path.c_str(), 0600) != 0)
    return Status::error("cannot make " + path.string() + " private");
  return Status::fine();
}

// The first `count` lines of `path`, each a Z85 key.
Result<std::vector<std::string>> read_keys(const fs::path& path, std::size_t count) {
  std::ifstream in(path);
  if (!in) return Status::error("cannot read " + path.string() + "; make the keys with `JOB keygen DIR`");
  std::vector<std::string> keys;
  std::string line;
  while (keys.size() < count && std::getline(in, line))
    if (!line.empty()) keys.push_back(line.substr(line.find(' ') + 1));
  for (const std::string& key : keys)
    if (!valid_z85_key(key)) return Status::error(path.string() + " does not hold a CURVE key");
  if (keys.size() < count) return Status::error(path.string() + " holds too few keys");
  return keys;
}

}  // namespace

Status write_cluster_keys(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return Status::error("cannot create " + dir + ": " + error.message());
  for (const char* role : {"controller", "worker"}) {
    char public_z85[kZ85KeyChars + 1], secret_z85[kZ85KeyChars + 1];
    if (zmq_curve_keypair(public_z85, secret_z85) != 0)
      return Status::error("ZeroMQ cannot make CURVE keys here");
    fs::path base = fs::path(dir) / role;
    Status written =
        write_lines(base.string() + ".key",
                    {std::string("public ") + public_z85, std::string("secret ") + secret_z85}, true);
    if (written.ok())
      written = write_lines(base.string() + ".pub", {std::string("public ") + public_z85}, false);
    if (!written.ok()) return written;
  }
  return Status::fine();
}

Result<ClusterKeys> read_cluster_keys(const std::string& dir, bool controller) {
  fs::path base(dir);
  Result<std::vector<std::string>> own = read_keys(base / (controller ? "controller.key" : "worker.key"), 2);
  if (!own.ok()) return own.status();
  Result<std::vector<std::string>> other =
      read_keys(base / (controller ? "worker.pub" : "controller.pub"), 1);
  if (!other.ok()) return other.status();
  const std::vector<std::string>&mine = own.value(), &theirs = other.value();
  ClusterKeys keys;
  keys.own = {mine[0], mine[1]};
  keys.controller_public = controller ? mine[0] : theirs[0];
  keys.worker_public = controller ? theirs[0] : mine[0];
  return keys;
}

Credentials Credentials::of_cluster(ClusterKeys keys) {
  Credentials c;
  c.keys_ = std::move(keys);
  return c;
}

Credentials Credentials::for_run() {
  // 32 bytes from the same source as CURVE's keys (libsodium's), as Z85.
  char public_z85[kZ85KeyChars + 1], secret_z85[kZ85KeyChars + 1];
  if (zmq_curve_keypair(public_z85, secret_z85) != 0)
    throw std::runtime_error("ZeroMQ cannot make a secret here");
  return of_run(secret_z85);
}

Credentials Credentials::of_run(std::string secret) {
  Credentials c;
  c.run_secret_ = std::move(secret);
  return c;
}

void admit_only_zmtp3_peers(zmq::socket_t& socket) { socket.set(zmq::sockopt::zap_domain, "canary"); }

void Credentials::serve(zmq::socket_t& socket) const {
  admit_only_zmtp3_peers(socket);
  if (keys_) {
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, keys_->own.secret_z85);
  } else {
    socket.set(zmq::sockopt::plain_server, 1);
  }
}

void Credentials::connect_to_controller(zmq::socket_t& socket) const {
  if (!keys_) {
    socket.set(zmq::sockopt::plain_username, "canary");
    socket.set(zmq::sockopt::plain_password, run_secret_);
    return;
  }
  socket.set(zmq::sockopt::curve_serverkey, keys_->controller_public);
  socket.set(zmq::sockopt::curve_publickey, keys_->own.public_z85);
  socket.set(zmq::sockopt::curve_secretkey, keys_->own.secret_z85);
}

void Credentials::connect_to_worker(zmq::socket_t& socket) const {
  connect_to_controller(socket);
  if (keys_) socket.set(zmq::sockopt::curve_serverkey, keys_->worker_public);
}

bool Credentials::admits(const std::string& mechanism, const std::vector<std::string>& credentials) const {
  if (keys_) {
    std::string allowed(32, '\0');
    zmq_z85_decode(reinterpret_cast<std::uint8_t*>(allowed.data()), keys_->worker_public.c_str());
    return mechanism == "CURVE" && credentials.size() == 1 && credentials[0] == allowed;
  }
  return mechanism == "PLAIN" && credentials.size() == 2 && credentials[1] == run_secret_;
}

Authenticator::Authenticator(zmq::context_t& context, Credentials credentials, std::string who)
    : handler_(context, zmq::socket_type::rep),
      credentials_(std::move(credentials)),
      who_(std::move(who)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_fd_ < 0) throw std::runtime_error("cannot make an eventfd for the ZAP handler");
  handler_.set(zmq::sockopt::linger, 0);
  handler_.bind(kZapEndpoint);
  thread_ = std::thread([this] { serve(); });
}

Authenticator::~Authenticator() {
  stop_ = true;
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
}

// ZAP (RFC 27): a request is version, request id, domain, address, identity,
// mechanism and the mechanism's credentials (CURVE: the client's public key).
void Authenticator::serve() {
  while (!stop_) {
    zmq::pollitem_t items[] = {{handler_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(-1));
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    std::vector<std::string> request;
    zmq::message_t part;
    do {
      if (!handler_.recv(part, zmq::recv_flags::dontwait)) break;
      request.push_back(part.to_string());
    } while (part.more());
    bool ok = request.size() >= 6 && request[0] == "1.0" &&
              credentials_.admits(request[5], std::vector<std::string>(request.begin() + 6, request.end()));
    if (!ok && (++refused_ <= 5 || refused_ % 1000 == 0))
      std::cerr << who_ << ": refused a connection from " << (request.size() > 3 ? request[3] : "?")
                << ": it does not hold the job's keys (" << refused_ << " refused so far)\n";
    std::vector<std::string> reply = {"1.0",
                                      request.size() > 1 ? request[1] : "",
                                      ok ? "200" : "400",
                                      ok ? "OK" : "not a worker of this cluster",
                                      "",
                                      ""};
    for (std::size_t i = 0; i < reply.size(); ++i)
      handler_.send(zmq::buffer(reply[i]),
                    i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

RefusalLog::RefusalLog(zmq::socket_t& socket, std::string who) : who_(std::move(who)) {
  static std::atomic<int> count{0};
  init(socket, "inproc://canary-refusals-" + std::to_string(count++),
       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
}

void RefusalLog::poll() {
  while (check_event(0)) {
  }
}

void RefusalLog::refused(const char* address, const char* why) {
  if (++refused_ <= 5 || refused_ % 1000 == 0)
    std::cerr << who_ << ": refused a connection to " << address << ": " << why << " (" << refused_
              << " refused so far)\n";
}

bool is_loopback_endpoint(const std::string& endpoint) {
  std::string rest =
      endpoint.substr(endpoint.find("://") == std::string::npos ? 0 : endpoint.find("://") + 3);
  std::string host = rest.substr(0, rest.rfind(':'));
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host == "::1" ||
         endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0;
}

}  // namespace canary::rt
