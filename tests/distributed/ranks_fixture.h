// Test helpers for process groups: a free loopback port, a launch environment, and a body
// run in several forked ranks.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "c2fmae/distributed/launch_env.h"

namespace c2fmae::testing {

/// A TCP port nobody listens on now (bound and released).
inline int64_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline distributed::LaunchEnv env_of(int64_t rank, int64_t world, int64_t port) {
  distributed::LaunchEnv env;
  env.launcher = "test";
  env.rank = rank;
  env.world_size = world;
  env.local_rank = rank;
  env.local_world_size = world;
  env.master_port = port;
  return env;
}

/// Runs `body(rank)` in `world` processes (rank 0 here, the others forked); returns whether
/// every forked rank exited 0. A forked rank never returns into the test framework.
template <class Body>
bool on_ranks(int64_t world, Body body) {
  std::vector<pid_t> children;
  for (int64_t r = 1; r < world; ++r) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 1;
      try {
        code = body(r) ? 0 : 1;
      } catch (...) {
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  bool ok = body(0);
  for (const pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok;
}

}  // namespace c2fmae::testing
