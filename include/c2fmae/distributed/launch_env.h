// Where this process sits in a multi-process launch (DESIGN.md §4), read from the variables
// torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// TORCHELASTIC_*) or, without them, from Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
// the first host of SLURM_JOB_NODELIST). A process started by hand needs none of them.
// Torch-free.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace c2fmae::distributed {

struct LaunchEnv {
  std::string launcher = "single";  ///< single, torchrun or slurm
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  int64_t local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  /// torchrun's agent already hosts the store at MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE):
  /// rank 0 connects as a client, under the prefix of this restart.
  bool agent_store = false;
  int64_t restart_count = 0;  ///< TORCHELASTIC_RESTART_COUNT
  /// The launch's own id, the same on every rank of one job and different between jobs:
  /// TORCHELASTIC_RUN_ID (torchrun), SLURM_JOB_ID (and SLURM_STEP_ID), or C2FMAE_JOB_ID
  /// (tools/launch/local.sh); "" when the launch names none. The rendezvous compares it.
  std::string job_id;

  bool distributed() const { return world_size > 1; }
  /// "rank 1 of 4 (local 1 of 2, torchrun), store 10.0.0.1:29500".
  std::string describe() const;
};

/// Reads the launch from `getenv` (the process environment by default). Throws UsageError
/// naming the variable for a value that is not a number, out of range, or inconsistent
/// (RANK >= WORLD_SIZE, a world size without a master address, ...).
LaunchEnv read_launch_env(const std::function<const char*(const char*)>& getenv = nullptr);

/// The first host of a Slurm node list: "gpu[03-04,07],cpu1" -> "gpu03", "a,b" -> "a".
/// Throws UsageError for an empty or malformed list.
std::string first_slurm_host(const std::string& nodelist);

}  // namespace c2fmae::distributed
