// The processes of a run as one c10d process group (DESIGN.md §4): rendezvous through a
// c10d TCPStore at MASTER_ADDR:MASTER_PORT (hosted by rank 0, or by torchrun's agent when it
// already hosts one), then ProcessGroupGloo for CPU tensors. Every collective has the
// group's timeout, so a dead or hung peer fails the others in bounded time with a message
// that says so, never a LibTorch backtrace.
#pragma once
#include <torch/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/distributed/launch_env.h"

namespace c2fmae::distributed {

/// A peer died, hung or could not be reached: the run cannot go on.
class PeerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Communicator {
 public:
  /// Joins the group of `env` with `backend` (auto or gloo; nccl is not built yet) and
  /// `timeout` for the rendezvous and every collective. Throws PeerError if the store or a
  /// peer cannot be reached in time, UsageError for a backend this build lacks.
  Communicator(const LaunchEnv& env, const std::string& backend, std::chrono::milliseconds timeout);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int64_t rank() const;
  int64_t world_size() const;
  /// Rank `root`'s values into `tensors` on every rank (in place).
  void broadcast(std::vector<torch::Tensor>& tensors, int64_t root = 0);
  /// The sum over ranks, in place.
  void all_reduce_sum(torch::Tensor& tensor);
  /// Whether `flag` is true on any rank: how ranks agree on a decision at a step boundary.
  bool any(bool flag);
  /// Waits for every rank.
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::distributed
