#include "c2fmae/distributed/launch_env.h"

#include <cerrno>
#include <cstdlib>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::distributed {
namespace {

const char* kLaunchHint =
    "start multi-process runs with tools/launch/local.sh, torchrun or srun, which set these "
    "variables consistently";

/// The integer value of variable `name` in [lo, hi], or `fallback` if it is unset.
int64_t integer(const std::function<const char*(const char*)>& getenv, const char* name,
                int64_t fallback, int64_t lo, int64_t hi) {
  const char* text = getenv(name);
  if (text == nullptr) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
    throw UsageError(with_hint(std::string(name) + "=" + text + ": expected a whole number in [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "]",
                               kLaunchHint));
  }
  return v;
}

/// Slurm's per-node task count: "4", "4(x2)" or "4(x2),3" -> its first number.
int64_t first_count(const char* text) {
  if (text == nullptr) return 0;
  return std::strtoll(text, nullptr, 10);
}

}  // namespace

std::string LaunchEnv::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (local " +
         std::to_string(local_rank) + " of " + std::to_string(local_world_size) + ", " + launcher +
         "), store " + master_addr + ":" + std::to_string(master_port) +
         (agent_store ? " (torchrun's agent)" : "");
}

std::string first_slurm_host(const std::string& nodelist) {
  // Hosts are separated by commas outside brackets; a bracket holds ranges of suffixes.
  std::string host;
  size_t i = 0;
  for (; i < nodelist.size() && nodelist[i] != ',' && nodelist[i] != '['; ++i) host += nodelist[i];
  if (i < nodelist.size() && nodelist[i] == '[') {
    const auto close = nodelist.find(']', i);
    std::string first;
    for (size_t j = i + 1;
         j < nodelist.size() && nodelist[j] != ',' && nodelist[j] != '-' && nodelist[j] != ']';
         ++j) {
      first += nodelist[j];
    }
    if (close == std::string::npos || first.empty()) {
      throw UsageError(with_hint("SLURM_JOB_NODELIST=" + nodelist + ": cannot read its first host",
                                 "set MASTER_ADDR to the first node's address"));
    }
    host += first;
  }
  if (host.empty()) {
    throw UsageError(with_hint("SLURM_JOB_NODELIST='" + nodelist + "': no host in it",
                               "set MASTER_ADDR to the first node's address"));
  }
  return host;
}

LaunchEnv read_launch_env(const std::function<const char*(const char*)>& getenv_fn) {
  const std::function<const char*(const char*)> get =
      getenv_fn ? getenv_fn : [](const char* name) -> const char* { return std::getenv(name); };
  constexpr int64_t kMaxWorld = 1 << 20;
  LaunchEnv env;
  if (get("WORLD_SIZE") != nullptr || get("RANK") != nullptr) {
    env.launcher = get("TORCHELASTIC_RUN_ID") != nullptr ? "torchrun" : "environment";
    env.world_size = integer(get, "WORLD_SIZE", 1, 1, kMaxWorld);
    env.rank = integer(get, "RANK", 0, 0, kMaxWorld - 1);
    env.local_rank = integer(get, "LOCAL_RANK", env.rank, 0, kMaxWorld - 1);
    env.local_world_size = integer(get, "LOCAL_WORLD_SIZE", env.world_size, 1, kMaxWorld);
    env.restart_count = integer(get, "TORCHELASTIC_RESTART_COUNT", 0, 0, kMaxWorld);
    const char* agent = get("TORCHELASTIC_USE_AGENT_STORE");
    env.agent_store =
        agent != nullptr && (std::string(agent) == "True" || std::string(agent) == "1");
  } else if (get("SLURM_PROCID") != nullptr && get("SLURM_NTASKS") != nullptr) {
    env.launcher = "slurm";
    env.world_size = integer(get, "SLURM_NTASKS", 1, 1, kMaxWorld);
    env.rank = integer(get, "SLURM_PROCID", 0, 0, kMaxWorld - 1);
    env.local_rank = integer(get, "SLURM_LOCALID", 0, 0, kMaxWorld - 1);
    const int64_t per_node = first_count(get("SLURM_NTASKS_PER_NODE"))
                                 ? first_count(get("SLURM_NTASKS_PER_NODE"))
                                 : first_count(get("SLURM_TASKS_PER_NODE"));
    env.local_world_size = per_node > 0 ? per_node : env.world_size;
    if (get("MASTER_ADDR") == nullptr && env.world_size > 1) {
      const char* nodes =
          get("SLURM_JOB_NODELIST") ? get("SLURM_JOB_NODELIST") : get("SLURM_NODELIST");
      if (nodes == nullptr) {
        throw UsageError(with_hint("SLURM_NTASKS > 1 without SLURM_JOB_NODELIST or MASTER_ADDR",
                                   "set MASTER_ADDR to the first node's address"));
      }
      env.master_addr = first_slurm_host(nodes);
    }
  } else {
    return env;  // one process, started by hand
  }
  if (const char* id = get("TORCHELASTIC_RUN_ID")) {
    env.job_id = std::string("torchrun ") + id;
  } else if (const char* job = get("SLURM_JOB_ID")) {
    const char* step = get("SLURM_STEP_ID");
    env.job_id = std::string("slurm ") + job + (step ? std::string(".") + step : "");
  } else if (const char* own = get("C2FMAE_JOB_ID")) {
    env.job_id = own;
  }
  if (const char* addr = get("MASTER_ADDR")) env.master_addr = addr;
  env.master_port = integer(get, "MASTER_PORT", env.master_port, 1, 65535);
  if (env.launcher != "slurm" && env.world_size > 1 && get("RANK") == nullptr) {
    throw UsageError(with_hint(
        "WORLD_SIZE = " + std::to_string(env.world_size) + " without RANK: which process is this?",
        kLaunchHint));
  }
  if (env.rank >= env.world_size) {
    throw UsageError(with_hint("rank " + std::to_string(env.rank) +
                                   " is not below the world size " + std::to_string(env.world_size),
                               kLaunchHint));
  }
  if (env.local_rank >= env.local_world_size || env.local_world_size > env.world_size) {
    throw UsageError(with_hint("local rank " + std::to_string(env.local_rank) + " of " +
                                   std::to_string(env.local_world_size) +
                                   " does not fit a world of " + std::to_string(env.world_size),
                               kLaunchHint));
  }
  if (env.world_size > 1 && env.master_addr.empty()) {
    throw UsageError(with_hint("MASTER_ADDR is empty", kLaunchHint));
  }
  return env;
}

}  // namespace c2fmae::distributed
