#ifdef C2FMAE_WITH_GLOO
#include "c2fmae/distributed/communicator.h"

#include <chrono>

#include "c2fmae/core/usage_error.h"
#include "distributed/ranks_fixture.h"
#include "test_helpers.h"

namespace c2fmae::distributed {
namespace {

using testing::env_of;
using testing::free_port;
using testing::on_ranks;

TEST(Communicator, ThreeRanksBroadcastAllReduceAndAgree) {
  const auto port = free_port();
  const bool ok = on_ranks(3, [&](int64_t rank) {
    Communicator c(env_of(rank, 3, port), config::DistBackend::kGloo, torch::kCPU,
                   std::chrono::seconds(30));
    auto sum = torch::full({5}, static_cast<float>(rank + 1));
    c.all_reduce_sum(sum);
    std::vector<torch::Tensor> from_root = {torch::full({2, 2}, static_cast<float>(rank * 10)),
                                            torch::full({3}, rank * 7, torch::kLong)};
    c.broadcast_coalesced(from_root, 16);  // smaller than the tensors: several buffers
    const auto values = c.broadcast_values({rank, 40 + rank});
    const bool anyone = c.any(rank == 2), nobody = c.any(false);
    c.barrier();
    return c.rank() == rank && c.world_size() == 3 && c.backend() == "gloo" &&
           sum.eq(6.0f).all().item<bool>() && from_root[0].eq(0.0f).all().item<bool>() &&
           from_root[1].eq(0).all().item<bool>() && values == std::vector<int64_t>{0, 40} &&
           anyone && !nobody;
  });
  EXPECT_TRUE(ok);
}

TEST(Communicator, ADeadPeerFailsTheOthersInBoundedTimeSayingSo) {
  const auto port = free_port();
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  on_ranks(2, [&](int64_t rank) {
    Communicator c(env_of(rank, 2, port), config::DistBackend::kGloo, torch::kCPU,
                   std::chrono::seconds(3));
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
    Communicator c(env, config::DistBackend::kGloo, torch::kCPU, std::chrono::seconds(2));
    ADD_FAILURE() << "joined a group without a store";
  } catch (const PeerError& e) {
    EXPECT_NE(std::string(e.what()).find("rendezvous"), std::string::npos) << e.what();
  }
}

// An unknown backend (dist.backend=mpi) is refused when the config is read (Sections tests).
TEST(Communicator, NcclForCpuTrainingIsAUsageError) {
  try {
    Communicator c(env_of(0, 2, free_port()), config::DistBackend::kNccl, torch::kCPU,
                   std::chrono::seconds(2));
    ADD_FAILURE() << "nccl accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("dist.backend"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace c2fmae::distributed
#endif  // C2FMAE_WITH_GLOO
