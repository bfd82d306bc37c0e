#include "c2fmae/distributed/launch_env.h"

#include <gtest/gtest.h>

#include <map>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::distributed {
namespace {

/// read_launch_env over a given set of variables.
LaunchEnv read(const std::map<std::string, std::string>& vars) {
  return read_launch_env([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(LaunchEnv, OneProcessNeedsNothing) {
  const auto env = read({});
  EXPECT_FALSE(env.distributed());
  EXPECT_EQ(env.launcher, "single");
  EXPECT_EQ(env.rank, 0);
}

TEST(LaunchEnv, ReadsTorchrunsVariablesAndItsAgentStore) {
  const auto env = read({{"RANK", "3"},
                         {"WORLD_SIZE", "8"},
                         {"LOCAL_RANK", "1"},
                         {"LOCAL_WORLD_SIZE", "2"},
                         {"MASTER_ADDR", "10.0.0.7"},
                         {"MASTER_PORT", "29411"},
                         {"TORCHELASTIC_RUN_ID", "x"},
                         {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                         {"TORCHELASTIC_RESTART_COUNT", "2"}});
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.launcher, "torchrun");
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "10.0.0.7");
  EXPECT_EQ(env.master_port, 29411);
  EXPECT_TRUE(env.agent_store);
  EXPECT_EQ(env.restart_count, 2);
  EXPECT_NE(env.describe().find("rank 3 of 8"), std::string::npos) << env.describe();
}

TEST(LaunchEnv, ReadsSlurmsVariablesWithTheFirstNodeAsMaster) {
  const auto env = read({{"SLURM_PROCID", "5"},
                         {"SLURM_NTASKS", "8"},
                         {"SLURM_LOCALID", "1"},
                         {"SLURM_NTASKS_PER_NODE", "4"},
                         {"SLURM_JOB_NODELIST", "gpu[03-04]"}});
  EXPECT_EQ(env.launcher, "slurm");
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.master_addr, "gpu03");
  EXPECT_EQ(env.master_port, 29500);
  // torchrun's variables win when both are set (torchrun inside an allocation).
  EXPECT_EQ(read({{"SLURM_PROCID", "5"},
                  {"SLURM_NTASKS", "8"},
                  {"RANK", "0"},
                  {"WORLD_SIZE", "2"},
                  {"MASTER_ADDR", "h"}})
                .world_size,
            2);
}

TEST(LaunchEnv, FirstSlurmHostOfEveryListForm) {
  EXPECT_EQ(first_slurm_host("node1"), "node1");
  EXPECT_EQ(first_slurm_host("node1,node2"), "node1");
  EXPECT_EQ(first_slurm_host("gpu[03-04,07],cpu1"), "gpu03");
  EXPECT_EQ(first_slurm_host("gpu[7,9]"), "gpu7");
  EXPECT_EQ(first_slurm_host("rack1-[001-004]"), "rack1-001");
  EXPECT_THROW(first_slurm_host(""), UsageError);
  EXPECT_THROW(first_slurm_host("gpu[03"), UsageError);
}

TEST(LaunchEnv, InconsistentValuesAreUsageErrorsNamingTheVariable) {
  auto message = [](const std::map<std::string, std::string>& vars) {
    try {
      read(vars);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE=two"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "2"}, {"RANK", "2"}}).find("rank 2"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "0"}}).find("WORLD_SIZE=0"), std::string::npos);
  EXPECT_NE(message({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT=70000"),
            std::string::npos);
  EXPECT_NE(
      message({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"LOCAL_RANK", "3"}, {"LOCAL_WORLD_SIZE", "2"}})
          .find("local rank 3"),
      std::string::npos);
  EXPECT_NE(message({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("MASTER_ADDR"),
            std::string::npos);
}

}  // namespace
}  // namespace c2fmae::distributed
