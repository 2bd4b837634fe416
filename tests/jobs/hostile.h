// Raw TCP garbage, for tests that throw it at a running job's ports.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <string>

namespace canary::testing {

// Connects to a loopback port and writes 4 KB of random bytes.
inline void raw_tcp_garbage(int port, std::mt19937_64& rng) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string junk(4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)!write(fd, junk.data(), junk.size());
  }
  close(fd);
}

}  // namespace canary::testing
