// The pre-training engine: model, data, curriculum masker, losses and optimizer, built from
// the config's sections, and `train_step`, one optimizer step whose stages read top to
// bottom. It writes no file; the run shell (run_shell.h) drives it.
//
//   check_pretrain_config(cfg);                 // every rule, before anything is built
//   PretrainEngine engine(cfg);
//   auto stats = engine.train_step(0);          // what a test may call directly
//
// Data-parallel (given a Communicator): process r of W reads slice r of every global batch of
// W x data.batch_size samples; masks, augmentations and instance slot orders are drawn from
// each sample's global position, loss counts are summed over the processes before dividing,
// and gradients are averaged by c10d's Reducer (gradient_sync.h, in the step every engine
// shares: data_parallel_step.h) during the last micro-batch's backward only. So W processes
// compute what one process of batch W x b does, within float32 round-off
// (tests/tools/distributed_pretrain_test.cpp).
//
// Per step: this step's progress (computed once), its curriculum weights and learning rate;
// per micro-batch the batch (micro_step = step * accum + k), its mask, forward (bf16
// autocast on CUDA), the weighted loss and backward; then the gradient norm (clipping), one
// host sync for every loss term and the norm together, and fused AdamW unless a loss or the
// norm is non-finite. Masks and token indices are made on the loader's threads, so nothing
// before that one read waits for the device (a CUDA test runs the step under sync-debug
// mode "error"). Batches, masks and every RNG draw are functions of (seed, step), so a
// run resumed at step N reproduces the uninterrupted run after N (bit-exact on CPU).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/batch.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/train/engine.h"
#include "c2fmae/train/run_shell.h"

namespace c2fmae::train {

/// Every rule of a pre-training config: the config's own (PretrainConfig::validate) and
/// those of the areas that know presets, generators and datasets. Throws ConfigError.
void check_pretrain_config(const config::PretrainConfig& cfg);

/// What one pre-training step computed.
struct PretrainStepStats {
  bool skipped = false;
  double loss = 0.0;                               ///< weighted total, micro-batch mean
  std::vector<std::pair<Modality, double>> terms;  ///< unweighted, per modality
  double grad_norm = 0.0;                          ///< before clipping; NaN if not reached
  double lr = 0.0;
  double progress = 0.0;  ///< step / total steps
  std::vector<std::pair<std::string, double>> generator_weights;
  double seconds = 0.0;
  /// Of `seconds`, the time spent waiting for the loader's batches: the share of the step
  /// the data pipeline did not hide (data.num_workers too low for the step's pace).
  double data_wait_seconds = 0.0;
};

class PretrainEngine : public Engine {
 public:
  /// Builds everything from `cfg` (checked with check_pretrain_config first); `group`: the
  /// processes of a data-parallel run (it must outlive the engine), or none.
  explicit PretrainEngine(const config::PretrainConfig& cfg,
                          distributed::Communicator* group = nullptr);
  ~PretrainEngine() override;

  /// Optimizer step `step`: see the file comment.
  PretrainStepStats train_step(int64_t step);
  /// Benchmarks (c2fmae_bench): the first `count` micro-batches as training makes them
  /// (masked by the curriculum, token indices attached), on the device.
  std::vector<Batch> device_batches(int64_t count);
  /// train_step on given micro-batches (from device_batches, reused in turn) instead of the
  /// loader's: the step without the data pipeline.
  PretrainStepStats train_step(int64_t step, const std::vector<Batch>& batches);
  /// The part of step `step` before the gradient norm: every micro-batch's forward, loss and
  /// backward, gradients left accumulated in the model. Returns [accum, 1 + M] losses on the
  /// device (weighted total, then each modality's term) without a host sync.
  torch::Tensor forward_backward(int64_t step);

  int64_t total_steps() const override;
  int64_t steps_per_epoch() const override;
  int64_t samples_per_step() const override;
  torch::Device device() const override;
  StepOutcome run_step(int64_t step) override;
  torch::nn::Module& module() override;
  optim::AdamW& optimizer() override;
  std::vector<std::pair<std::string, std::string>> describe() const override;
  std::string nonfinite_hint() const override;
  std::map<std::string, int64_t> counters() const override;
  void restore_counters(const std::map<std::string, int64_t>& counters) override;
  /// The EMA encoder (train/ema_encoder.h) when a generator of the curriculum reads the
  /// patch affinity; none otherwise.
  std::vector<std::pair<std::string, torch::Tensor>> extra_state() override;
  void restore_extra_state(
      const std::vector<std::pair<std::string, torch::Tensor>>& stored) override;
  /// Reconstructions of the first log.pictures_count samples of the dataset, masked by the
  /// curriculum at step `step`'s progress (train/reconstruction_pictures.h).
  torch::Tensor picture(int64_t step) override;
  void synchronize_state() override;
  void check_replicas() override;
  /// Loads train.pretrained (a timm / MAE ViT for the encoder, or a whole c2fmae model).
  void fresh_start() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Checks `cfg`, builds a PretrainEngine and runs it in a RunShell.
RunResult pretrain(const config::PretrainConfig& cfg, RunOptions options);

}  // namespace c2fmae::train
