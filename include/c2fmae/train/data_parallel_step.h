// The optimizer step every training engine shares, single-process or data-parallel: the
// micro-batches of gradient accumulation, backward (data-parallel: gradients averaged over
// the processes by c10d's Reducer in the last micro-batch's backward), the gradient norm,
// one host read of the step's figures that every process agrees on (summed over them first),
// the bad-sample budget, the non-finite skip, AdamW and the replica check. An engine brings
// what is its own: the next micro-batch, its forward and loss, and what follows an update.
//
//   DataParallelStep steps(group, device, trained_params, optimizer, options, state);
//   DataParallelStep::Hooks hooks;
//   hooks.next_batch = [&](int64_t micro_step) { return loader->batch(micro_step); };
//   hooks.forward_loss = [&](const Batch& b, bool last) { return MicroBatchLoss{loss, figures}; };
//   auto r = steps.run(step, lr, hooks);   // r.skipped, r.loss, r.figures, r.grad_norm
//
// A third engine gets data parallelism by building its step from this class
// (tests/train/data_parallel_step_test.cpp trains a toy engine in 1 and 3 processes).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/core/batch.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/optim/adamw.h"
#include "c2fmae/train/bad_sample_budget.h"

namespace c2fmae::distributed {
class GradientSync;
}

namespace c2fmae::train {

/// What an engine's forward and loss gave for one micro-batch.
struct MicroBatchLoss {
  /// What backward differentiates: this process's loss of the micro-batch (see LossScope).
  torch::Tensor loss;
  /// The figures the step reports, [F] on the device, detached, [0] the total loss; of the
  /// same scope as the loss.
  torch::Tensor figures;
};

/// What a process's loss and figures are of the global batch's.
enum class LossScope {
  /// Its share: the processes' values sum to the global batch's (the loss divides by counts
  /// summed over the processes, as pre-training's do). As the Reducer averages gradients
  /// over the W processes, backward runs on W x the loss.
  kGlobalShare,
  /// Its own mean: the global batch's is the mean over the processes (equal batches).
  kProcessMean,
};

class DataParallelStep {
 public:
  struct Options {
    int64_t accum_steps = 1;          ///< micro-batches per optimizer step (optim.accum_steps)
    double clip_grad = 0.0;           ///< optim.clip_grad; 0: the norm is measured, not clipped
    int64_t bucket_bytes = 25 << 20;  ///< gradient buckets and broadcasts (dist.bucket_mb)
    double max_bad_fraction = 0.01;   ///< data.max_bad_fraction
    int64_t dataset_size = 0;         ///< the training split's samples (the bad-sample budget)
    LossScope loss_scope = LossScope::kProcessMean;
  };
  /// `group`: the processes of a data-parallel run (it must outlive this), or null for one
  /// process. `trained`: the parameters that train, in the same order on every process
  /// (none: an engine that only evaluates, whose run() throws).
  /// Data-parallel, rank 0's `state` (e.g. the model's parameters and buffers) is
  /// broadcast first, as DDP does, so that nothing else can make the replicas differ.
  DataParallelStep(distributed::Communicator* group, torch::Device device,
                   std::vector<torch::Tensor> trained, optim::AdamW& optimizer,
                   const Options& options, const std::vector<torch::Tensor>& state = {});
  ~DataParallelStep();
  DataParallelStep(const DataParallelStep&) = delete;
  DataParallelStep& operator=(const DataParallelStep&) = delete;

  /// What an engine plugs in.
  struct Hooks {
    /// Micro-batch `micro_step` (= step x accum_steps + k) on the host, as the loader gives
    /// it (the step counts its bad samples and times the wait).
    std::function<Batch(int64_t micro_step)> next_batch;
    /// Optional: what the engine does to the batch on the host before it goes to the
    /// device (e.g. masking it with this step's encoder), not counted as waiting for data.
    std::function<void(Batch& batch, int64_t micro_step)> prepare;
    /// Forward and loss of the batch (on the device). `last`: the micro-batch whose
    /// backward communicates.
    std::function<MicroBatchLoss(const Batch& batch, bool last)> forward_loss;
    /// Optional: after the optimizer's update (not called for a skipped step).
    std::function<void()> after_update;
  };

  /// What a step gave, the same on every process.
  struct Result {
    bool skipped = false;  ///< a non-finite loss or gradient norm: nothing was updated
    std::string skip_reason;
    double loss = 0.0;  ///< the total, mean over micro-batches (the non-finite one if skipped)
    std::vector<double> figures;  ///< each figure's mean over micro-batches (if not skipped)
    double grad_norm = 0.0;       ///< before clipping; NaN if a loss was non-finite
    double data_wait_seconds = 0.0;
    int64_t bad_samples = 0;  ///< bad samples replaced in this step, over every process
  };

  /// Optimizer step `step` at learning rate `lr`.
  Result run(int64_t step, double lr, const Hooks& hooks);
  /// The part of run() before the gradient norm: every micro-batch's batch, forward, loss
  /// and backward, gradients left accumulated. Returns [accum_steps, F] figures on the
  /// device, without a host sync.
  torch::Tensor forward_backward(int64_t step, const Hooks& hooks);

  /// The run's bad samples so far (engines checkpoint its counts).
  BadSampleBudget& bad_samples() { return bad_; }
  const BadSampleBudget& bad_samples() const { return bad_; }
  /// Data-parallel: makes `tensors` rank 0's on every process. One process: nothing.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  /// Data-parallel: throws std::runtime_error on every process if `params` are not bitwise
  /// identical to rank 0's (two integer checksums per tensor, exact in any order). One
  /// process: nothing.
  void check_replicas(const std::vector<torch::Tensor>& params);

  distributed::Communicator* group() const { return group_; }
  int64_t rank() const { return rank_; }
  int64_t world() const { return world_; }
  int64_t accum_steps() const { return options_.accum_steps; }

 private:
  distributed::Communicator* group_;  ///< null in a single process
  int64_t rank_ = 0, world_ = 1;
  torch::Device device_;
  std::vector<torch::Tensor> trained_;
  optim::AdamW& optimizer_;
  Options options_;
  BadSampleBudget bad_;
  std::unique_ptr<distributed::GradientSync> sync_;  ///< data-parallel training only
  // This step's host-side counts (reset by forward_backward).
  double data_wait_seconds_ = 0.0;
  int64_t step_skipped_ = 0, step_read_ = 0;
};

}  // namespace c2fmae::train
