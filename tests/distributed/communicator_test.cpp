#ifdef C2FMAE_WITH_GLOO
#include "c2fmae/distributed/communicator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "test_helpers.h"

namespace c2fmae::distributed {
namespace {

/// A TCP port nobody listens on now (bound and released).
int64_t free_port() {
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

LaunchEnv env_of(int64_t rank, int64_t world, int64_t port) {
  LaunchEnv env;
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

TEST(Communicator, ThreeRanksBroadcastAllReduceAndAgree) {
  const auto port = free_port();
  const bool ok = on_ranks(3, [&](int64_t rank) {
    Communicator c(env_of(rank, 3, port), "gloo", std::chrono::seconds(30));
    auto sum = torch::full({5}, static_cast<float>(rank + 1));
    c.all_reduce_sum(sum);
    std::vector<torch::Tensor> from_root = {torch::full({2, 2}, static_cast<float>(rank * 10))};
    c.broadcast(from_root);
    const bool anyone = c.any(rank == 2), nobody = c.any(false);
    c.barrier();
    return c.rank() == rank && c.world_size() == 3 && sum.eq(6.0f).all().item<bool>() &&
           from_root[0].eq(0.0f).all().item<bool>() && anyone && !nobody;
  });
  EXPECT_TRUE(ok);
}

TEST(Communicator, ADeadPeerFailsTheOthersInBoundedTimeSayingSo) {
  const auto port = free_port();
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  on_ranks(2, [&](int64_t rank) {
    Communicator c(env_of(rank, 2, port), "gloo", std::chrono::seconds(3));
    if (rank == 1) ::_exit(0);  // dies before the collective
    try {
      auto t = torch::ones({1});
      c.all_reduce_sum(t);
    } catch (const PeerError& e) {
      message = e.what();
    }
    return true;
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 30.0);
  EXPECT_NE(message.find("an all-reduce failed on rank 0 of 2"), std::string::npos) << message;
  EXPECT_EQ(message.find("c10::"), std::string::npos) << message;
}

TEST(Communicator, NoStoreToReachIsAPeerErrorAfterTheTimeout) {
  LaunchEnv env = env_of(1, 2, free_port());  // a client whose rank 0 never comes
  try {
    Communicator c(env, "gloo", std::chrono::seconds(2));
    ADD_FAILURE() << "joined a group without a store";
  } catch (const PeerError& e) {
    EXPECT_NE(std::string(e.what()).find("rendezvous"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace c2fmae::distributed
#endif  // C2FMAE_WITH_GLOO
