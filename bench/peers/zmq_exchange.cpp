// Raw ZeroMQ, the ceiling of bench/run exchange: two processes on this
// machine, each with a PULL socket and a PUSH socket to the other over
// loopback TCP, swap BYTES in one message each way per round, ROUNDS times
// after a warm-up round. The message is sent from one buffer without a copy
// (zmq_msg_init_data) and received into ZeroMQ's own. Prints the bytes per
// second that crossed, both directions together.
//   zmq_exchange BYTES ROUNDS
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace {

void keep(void*, void*) {}  // the buffer outlives every message

// One side: its PULL port goes out on `tell`, the other's comes in on `hear`.
double side(int tell, int hear, std::size_t bytes, int rounds) {
  std::vector<char> buffer(bytes, 1);  // first: it outlives the context, which sends the last message
  zmq::context_t context;
  zmq::socket_t in(context, zmq::socket_type::pull), out(context, zmq::socket_type::push);
  in.bind("tcp://127.0.0.1:*");
  std::string mine = in.get(zmq::sockopt::last_endpoint);
  if (write(tell, mine.c_str(), mine.size() + 1) < 0) std::exit(1);
  char theirs[256] = {};
  if (read(hear, theirs, sizeof theirs - 1) <= 0) std::exit(1);
  out.connect(theirs);
  auto swap = [&] {
    zmq::message_t message(buffer.data(), buffer.size(), &keep, nullptr);
    out.send(message, zmq::send_flags::none);
    zmq::message_t back;
    if (!in.recv(back) || back.size() != bytes) std::exit(1);
  };
  swap();
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) swap();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: zmq_exchange BYTES ROUNDS\n");
    return 2;
  }
  std::size_t bytes = std::stoul(argv[1]);
  int rounds = std::stoi(argv[2]);
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    side(to_parent[1], to_child[0], bytes, rounds);
    return 0;
  }
  double seconds = side(to_child[1], to_parent[0], bytes, rounds);
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("%.0f\n", 2.0 * bytes * rounds / seconds);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
