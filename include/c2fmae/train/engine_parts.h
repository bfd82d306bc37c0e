// What every training engine (pretrain_engine.h, finetune_engine.h) builds its step from:
// the device of this process, bf16 autocast, the run-length rules, the bad-sample budget and
// the data-parallel replica check.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "c2fmae/config/config.h"
#include "c2fmae/distributed/communicator.h"

namespace c2fmae::train {

/// bf16 autocast on CUDA for the forward pass and the loss, while it lives.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
};

/// The CPU, or the CUDA device of this process (one per process, by its local rank), made
/// the current device. Throws for train.device = cuda without one (std::runtime_error) and a
/// local rank without a GPU of its own (UsageError).
torch::Device choose_device(const config::TrainConfig& train, int64_t local_rank);

/// The rules on numbers derived from several sections and the dataset's size: a batch the
/// dataset can fill, at least one optimizer step per epoch, a step count and a warm-up that
/// fit, a learning-rate floor below the peak. Throws ConfigError (exit 2).
void check_run_length(const config::Origins& origins, const config::DataConfig& data,
                      const config::OptimConfig& optim, const config::TrainConfig& train,
                      int64_t dataset_size, int64_t world);

/// The run's bad samples against data.max_bad_fraction (counted over every process).
struct BadSampleBudget {
  double max_fraction = 0.01;
  int64_t dataset_size = 0;
  int64_t skipped = 0;  ///< bad samples so far (data_skipped in metrics)
  int64_t read = 0;     ///< samples read so far, bad ones included
  /// Adds a step's counts; throws std::runtime_error (on every process alike) once the bad
  /// fraction passes max_fraction, judged over at least min(1000, dataset size) samples so
  /// that one early bad file does not stop a run.
  void add(int64_t step_skipped, int64_t step_read);
};

/// Data-parallel: throws std::runtime_error on every process if `params` are not bitwise
/// identical to rank 0's (two integer checksums per tensor, exact in any order).
void check_replicas(distributed::Communicator& group, const std::vector<torch::Tensor>& params,
                    int64_t bucket_bytes);

}  // namespace c2fmae::train
