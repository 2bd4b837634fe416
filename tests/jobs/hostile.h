// Raw TCP garbage, for tests that throw it at a running job's ports.
#pragma once

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace canary::testing {

// A TCP connection to a loopback port, or -1. `timeout_option`
// (SO_SNDTIMEO or SO_RCVTIMEO, or 0 for none) bounds that direction by 2 s,
// so that a target that stops reading or never answers cannot stall a test.
inline int connect_to_loopback(int port, int timeout_option) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  timeval timeout{2, 0};
  if (timeout_option != 0) setsockopt(fd, SOL_SOCKET, timeout_option, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Connects to a loopback port and writes 4 KB of random bytes.
inline void raw_tcp_garbage(int port, std::mt19937_64& rng) {
  int fd = connect_to_loopback(port, 0);
  if (fd < 0) return;
  std::string junk(4096, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  (void)!write(fd, junk.data(), junk.size());
  close(fd);
}

// Greets a loopback port as an old ZeroMQ peer, ZMTP 1.0 (its routing id
// straight away) or ZMTP 2.0, and says whether the target hangs up on it
// within two seconds.
inline bool hangs_up_on_old_zmtp(int port, bool zmtp1) {
  int fd = connect_to_loopback(port, SO_RCVTIMEO);
  if (fd < 0) return false;
  std::string greeting = zmtp1 ? std::string("\x01\x00", 2)  // an empty routing id
                               : std::string("\xff\0\0\0\0\0\0\0\x01\x7f\x01\x05\0\0", 14);
  (void)send(fd, greeting.data(), greeting.size(), MSG_NOSIGNAL);
  char reply[256];
  ssize_t got;
  while ((got = recv(fd, reply, sizeof reply, 0)) > 0) {
  }
  bool hung_up = got == 0 || (got < 0 && errno == ECONNRESET);
  close(fd);
  return hung_up;
}

// The partial-frame attack: a ZMTP 3.0 peer with the NULL mechanism that
// introduces itself as `socket_type`, declares one frame of 2^30 - 1 bytes and
// sends up to `bytes` of it. Returns the connection, still open (-1 if none
// could be made), so that what the target holds for it stays held.
inline int huge_frame_attack(int port, const std::string& socket_type, std::size_t bytes) {
  int fd = connect_to_loopback(port, SO_SNDTIMEO);
  if (fd < 0) return -1;
  std::string greeting(64, '\0');
  greeting[0] = '\xff';
  greeting[9] = '\x7f';
  greeting[10] = 3;  // version 3.0
  greeting.replace(12, 4, "NULL");
  std::string ready = std::string("\x05READY") + "\x0bSocket-Type" + std::string(3, '\0') +
                      static_cast<char>(socket_type.size()) + socket_type;
  std::string frame = greeting + '\x04' + static_cast<char>(ready.size()) + ready + '\x02';
  std::uint64_t declared = (std::uint64_t{1} << 30) - 1;
  for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>(declared >> shift & 0xff);
  bool open = send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
  std::string block(64 << 10, 'x');
  for (std::size_t sent = 0; open && sent < bytes; sent += block.size())
    open = send(fd, block.data(), block.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(block.size());
  return fd;
}

// A process's resident memory, in bytes (0 if it is gone).
inline std::size_t resident_bytes(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  return 0;
}

// Whether a child process still runs (it has not exited, even if nobody
// has waited for it yet).
inline bool running(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, name, state;
  stat >> pid_field >> name >> state;
  return stat && state != "Z";
}

// The loopback TCP ports a process listens on.
inline std::vector<int> listening_ports(int pid) {
  std::set<std::string> inodes;
  std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* dir = opendir(fds.c_str())) {
    while (dirent* e = readdir(dir)) {
      char target[256] = {};
      std::string link = fds + "/" + e->d_name;
      ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
      std::string t(target, n > 0 ? static_cast<std::size_t>(n) : 0);
      if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
    }
    closedir(dir);
  }
  std::vector<int> ports;
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    in >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    if (state == "0A" && inodes.count(inode))
      ports.push_back(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
  }
  return ports;
}

}  // namespace canary::testing
