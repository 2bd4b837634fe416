// Garbage thrown at a running job's controller and worker ports must leave
// the job running to the right answer: every decoder refuses what it cannot
// trust, drops it, and says so (rate-limited), never crashing.
#include "hostile.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "run_job.h"
#include "serial_reference.h"
#include "wire/wire.capnp.h"

using namespace canary::testing;

namespace {

zmq::message_t frame_of(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  return zmq::message_t(words.asBytes().begin(), words.asBytes().size());
}

// Frames that decode but lie: unknown stages, partitions that do not exist,
// chunks for the wrong dataset, a map that names workers nobody started.
std::vector<zmq::message_t> plausible_lies() {
  std::vector<zmq::message_t> frames;
  for (unsigned stage : {0u, 1u, 2u, 3u, 999u}) {
    capnp::MallocMessageBuilder m;
    auto t = m.initRoot<canary::wire::Envelope>().initData();
    t.setJob("pagerank");
    t.setStage(stage);
    t.setSeq(3);
    t.setSender(stage == 1 ? 12345 : 0);
    auto parts = t.initParts(2);
    parts[0].setDataset(1);
    parts[0].setPartition(stage == 2 ? 1u << 30 : 0);
    parts[1].setDataset(7);
    parts[1].setPartition(1);
    frames.push_back(frame_of(m));
  }
  capnp::MallocMessageBuilder update;
  auto entries = update.initRoot<canary::wire::Envelope>().initMapUpdate().initMap(1);
  entries[0].setWorker(77);
  frames.push_back(frame_of(update));
  return frames;
}

// Random bytes, in frames of random sizes (some a multiple of 8, so that
// they get as far as Cap'n Proto).
std::vector<zmq::message_t> random_frames(std::mt19937_64& rng, int n) {
  std::vector<zmq::message_t> frames;
  for (int i = 0; i < n; ++i) {
    std::size_t size = (rng() % 64) * (i % 2 ? 8 : 1) + 1;
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    frames.emplace_back(bytes.data(), bytes.size());
  }
  return frames;
}

// A PageRank job on loopback (4 partitions, 10 iterations) whose controller
// and first worker listen on known ports and wait for a second worker: a
// target to attack before `finish` starts that worker and waits for the end.
struct WaitingJob {
  int controller_port = free_port(), data_port = free_port();
  std::string controller = "tcp://127.0.0.1:" + std::to_string(controller_port);
  JobProcess job = start_job(CANARY_JOB_pagerank, {"controller", "--listen", controller, "--expect=2",
                                                   "--partitions=4", "--vertices=20000", "--iterations=10"});
  JobProcess target = start_job(CANARY_JOB_pagerank,
                                {"worker", "--controller", controller, "--threads=1", "--listen",
                                 "tcp://127.0.0.1:" + std::to_string(data_port)},
                                false);

  WaitingJob() { std::this_thread::sleep_for(std::chrono::milliseconds(500)); }  // both listen by then

  // The controller's run.
  JobRun finish() {
    JobProcess other =
        start_job(CANARY_JOB_pagerank, {"worker", "--controller", controller, "--threads=1"}, false);
    JobRun run = finish_job(job);
    finish_job(target);
    finish_job(other);
    return run;
  }
};

}  // namespace

TEST_CASE("random frames and raw TCP garbage leave a running job's answers right") {
  int controller_port = free_port(), data_port = free_port();
  std::string controller = "tcp://127.0.0.1:" + std::to_string(controller_port);
  std::string data = "tcp://127.0.0.1:" + std::to_string(data_port);
  JobProcess job = start_job(CANARY_JOB_pagerank, {"controller", "--listen", controller, "--expect=2",
                                                   "--partitions=6", "--vertices=20000", "--iterations=100"});
  JobProcess target = start_job(
      CANARY_JOB_pagerank, {"worker", "--controller", controller, "--threads=1", "--listen", data}, false);
  JobProcess other =
      start_job(CANARY_JOB_pagerank, {"worker", "--controller", controller, "--threads=1"}, false);

  zmq::context_t context;
  zmq::socket_t to_worker(context, zmq::socket_type::push), to_controller(context, zmq::socket_type::dealer);
  for (zmq::socket_t* s : {&to_worker, &to_controller}) {
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::reconnect_ivl, 10);  // in as soon as the job listens
  }
  to_worker.connect(data);
  to_controller.connect(controller);
  std::mt19937_64 rng(7);
  // On until the controller has exited: its shutdown is attacked too.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (running(job.pid) && std::chrono::steady_clock::now() < deadline) {
    for (zmq::message_t& f : random_frames(rng, 20)) (void)to_worker.send(f, zmq::send_flags::dontwait);
    for (zmq::message_t& f : random_frames(rng, 20)) (void)to_controller.send(f, zmq::send_flags::dontwait);
    for (zmq::message_t& f : plausible_lies()) (void)to_worker.send(f, zmq::send_flags::dontwait);
    raw_tcp_garbage(controller_port, rng);
    raw_tcp_garbage(data_port, rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  JobRun c = finish_job(job);
  JobRun t = finish_job(target);
  JobRun o = finish_job(other);
  INFO("controller: " << c.err << "\ntarget worker: " << t.err);
  REQUIRE(c.exit_code == 0);
  CHECK(t.exit_code == 0);
  CHECK(o.exit_code == 0);
  CHECK(t.err.find("worker: dropped a message") != std::string::npos);
  CHECK(c.err.find("controller: dropped a message") != std::string::npos);
  std::vector<std::vector<double>> ranks = serial_pagerank(6, 100, 20000, 8, 0.85);
  for (std::size_t p = 0; p < ranks.size(); ++p) check_close(c.results["outputs"]["ranks"][p], ranks[p]);
}

TEST_CASE(
    "a peer that declares a huge frame is cut off at its header: the controller and workers stay small") {
  WaitingJob waiting;
  std::size_t controller_before = resident_bytes(waiting.job.pid),
              worker_before = resident_bytes(waiting.target.pid);
  std::vector<int> attacks;
  for (int i = 0; i < 4; ++i) {  // 4 x 64 MiB: a target that holds them grows by 256 MiB
    attacks.push_back(huge_frame_attack(waiting.controller_port, "DEALER", std::size_t{64} << 20));
    attacks.push_back(huge_frame_attack(waiting.data_port, "PUSH", std::size_t{64} << 20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::size_t controller_after = resident_bytes(waiting.job.pid),
              worker_after = resident_bytes(waiting.target.pid);
  for (int fd : attacks)
    if (fd >= 0) close(fd);
  JobRun c = waiting.finish();
  INFO("controller " << controller_before << " -> " << controller_after << " bytes, worker " << worker_before
                     << " -> " << worker_after << "\n"
                     << c.err);
  CHECK(controller_after < controller_before + (std::size_t{32} << 20));
  CHECK(worker_after < worker_before + (std::size_t{32} << 20));
  REQUIRE(c.exit_code == 0);
  std::vector<std::vector<double>> ranks = serial_pagerank(4, 10, 20000, 8, 0.85);
  for (std::size_t p = 0; p < ranks.size(); ++p) check_close(c.results["outputs"]["ranks"][p], ranks[p]);
}

TEST_CASE("the embedded default authenticates its own processes: a stranger is refused at the handshake") {
  JobProcess job =
      start_job(CANARY_JOB_pagerank, {"--partitions=4", "--vertices=20000", "--iterations=400", "--quiet"});
  std::vector<int> ports;
  for (int i = 0; i < 100 && ports.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ports = listening_ports(job.pid);
  }
  REQUIRE(ports.size() == 1);  // the controller's socket, bound to a free port
  std::size_t before = resident_bytes(job.pid);
  std::vector<int> attacks;
  for (int i = 0; i < 4; ++i) attacks.push_back(huge_frame_attack(ports[0], "DEALER", std::size_t{64} << 20));
  zmq::context_t context;
  zmq::socket_t keyless(context, zmq::socket_type::dealer);
  keyless.set(zmq::sockopt::linger, 0);
  keyless.connect("tcp://127.0.0.1:" + std::to_string(ports[0]));
  capnp::MallocMessageBuilder message;
  message.initRoot<canary::wire::Envelope>().initRegister().setJob("pagerank");
  zmq::message_t frame = frame_of(message);
  (void)keyless.send(frame, zmq::send_flags::dontwait);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::size_t after = resident_bytes(job.pid);
  for (int fd : attacks)
    if (fd >= 0) close(fd);
  JobRun r = finish_job(job);
  INFO(r.err);
  CHECK(after < before + (std::size_t{32} << 20));
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("controller: refused a connection") != std::string::npos);
  CHECK(r.results["stats"]["workers"].size() == 2);  // the stranger never joined
  std::vector<std::vector<double>> ranks = serial_pagerank(4, 400, 20000, 8, 0.85);
  for (std::size_t p = 0; p < ranks.size(); ++p) check_close(r.results["outputs"]["ranks"][p], ranks[p]);
}

// libzmq 4.3.4 aborts a process whose closing ROUTER gets a ZMTP 1.0 or 2.0
// peer's routing id (zmtp_engine.cpp:446): random bytes thrown at the
// controller as its job ended killed it with SIGABRT, rarely (once in CI;
// a bare ROUTER, closed under such bytes, in one round of ten). Every port
// a job listens on hangs up on those peers at once.
TEST_CASE("the controller and the workers hang up on a peer that greets them in ZMTP 1.0 or 2.0") {
  WaitingJob waiting;
  for (int port : {waiting.controller_port, waiting.data_port}) {
    CAPTURE(port);
    CHECK(hangs_up_on_old_zmtp(port, true));
    CHECK(hangs_up_on_old_zmtp(port, false));
  }
  JobRun c = waiting.finish();
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  std::vector<std::vector<double>> ranks = serial_pagerank(4, 10, 20000, 8, 0.85);
  for (std::size_t p = 0; p < ranks.size(); ++p) check_close(c.results["outputs"]["ranks"][p], ranks[p]);
}
