// The processes of a run as one c10d process group (DESIGN.md §4): rendezvous through a
// c10d TCPStore at MASTER_ADDR:MASTER_PORT (hosted by rank 0, or by torchrun's agent when it
// already hosts one), ProcessGroupGloo for CPU tensors and, when training on CUDA,
// ProcessGroupNCCL for CUDA tensors. Every collective has the group's timeout, so a dead or
// hung peer fails the others in bounded time with a message that says so, never a LibTorch
// backtrace.
//
//   Communicator group(read_launch_env(), "auto", device, std::chrono::seconds(600));
//   group.broadcast_coalesced(params, 25 << 20);   // rank 0's values everywhere
//   if (group.any(stop_requested)) ...             // a decision every rank takes together
#pragma once
#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/distributed/launch_env.h"

namespace c10d {
class ProcessGroup;
}

namespace c2fmae::distributed {

/// A peer died, hung or could not be reached: the run cannot go on.
class PeerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Communicator {
 public:
  /// Joins the group of `env` for tensors on `device`, with `backend` (auto: nccl for a
  /// CUDA device, gloo for the CPU; or nccl, gloo) and `timeout` for the rendezvous and every
  /// collective. Decisions (any, barrier) always go over Gloo on the CPU. Throws PeerError
  /// if the store or a peer cannot be reached in time, UsageError for a backend this build
  /// or device lacks.
  /// `job` names what every rank runs (e.g. "c2fmae_pretrain"): right after the store is
  /// reached, each rank compares it, env.job_id and WORLD_SIZE with rank 0's and throws
  /// UsageError naming what differs (a rank of another job on this MASTER_PORT, ranks
  /// started with different WORLD_SIZE), instead of waiting for the timeout.
  Communicator(const LaunchEnv& env, config::DistBackend backend, const torch::Device& device,
               std::chrono::milliseconds timeout, const std::string& job = "");
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int64_t rank() const;
  int64_t world_size() const;
  const LaunchEnv& env() const;
  /// "gloo" or "nccl": the backend of the training device's tensors.
  const std::string& backend() const;
  std::chrono::milliseconds timeout() const;
  /// Rank `root`'s values into `tensors` on every rank (in place), packed into buffers of
  /// at most `buffer_bytes` (c10d's broadcast_coalesced, as DDP syncs module states).
  void broadcast_coalesced(const std::vector<torch::Tensor>& tensors, int64_t buffer_bytes,
                           int64_t root = 0);
  /// The sum over ranks, in place (a tensor on the training device or the CPU).
  void all_reduce_sum(torch::Tensor& tensor);
  /// Whether `flag` is true on any rank: how ranks agree on a decision at a step boundary.
  bool any(bool flag);
  /// The largest `value` over the ranks (on the CPU, over Gloo).
  int64_t max(int64_t value);
  /// Rank 0's `text` on every rank.
  std::string broadcast_text(const std::string& text);
  /// Rank 0's values of `values` on every rank.
  std::vector<int64_t> broadcast_values(std::vector<int64_t> values);
  /// Waits for every rank.
  void barrier();
  /// The c10d group, for the gradient synchronisation (gradient_sync.h).
  c10::intrusive_ptr<c10d::ProcessGroup> process_group() const;
  /// Runs `f`, turning c10d's errors (a timeout, a closed connection) into a PeerError that
  /// names `what` was being done, by whom, and the timeout.
  void guard(const char* what, const std::function<void()>& f) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::distributed
