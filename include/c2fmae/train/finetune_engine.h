// The fine-tuning engine: a classifier (models/classifier.h) on a pre-trained encoder, trained
// with MAE's fine-tuning recipe (main_finetune.py, DESIGN.md §1) or as a linear probe
// (main_linprobe.py), and evaluated on the validation split. It writes no file; the run shell
// drives it, evaluates after every epoch and keeps best.pt.
//
//   check_finetune_config(cfg);
//   FinetuneEngine engine(cfg);
//   engine.fresh_start();                   // loads train.pretrained (the shell does this)
//   auto e = engine.evaluate();             // val_top1, val_top5, val_loss
//
// finetune: every parameter trains; layer-wise lr decay (optim/layer_decay.h), drop path,
//   RandAugment and random erasing on the loader's threads, mixup / cutmix with label
//   smoothing and the soft-target cross-entropy, AdamW, warm-up then cosine, bf16 autocast on
//   CUDA.
// linprobe: the encoder is frozen and stays in eval mode (no drop path, nothing of it
//   changes: parameters, and statistics if it had any); only the BatchNorm (no affine) and
//   the linear head before it train.
// eval: no training; evaluate() on the given weights.
//
// Per step, as pre-training's: the micro-batches (micro_step = step * accum + k), forward,
// loss, backward (data-parallel: gradients averaged by c10d's Reducer in the last
// micro-batch's backward), the gradient norm, one host sync for the loss, norm and bad-sample
// counts (all-reduced), and AdamW unless something is non-finite. Every random draw (crop,
// RandAugment, erasing, mixup, drop path) is a function of (seed, step), so a resumed run
// replays the uninterrupted one.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/config/finetune_config.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/train/engine.h"

namespace c2fmae::train {

/// Every rule of a fine-tuning config: its own (FinetuneConfig::validate) and those that need
/// the presets and RandAugment's spec. Throws ConfigError.
void check_finetune_config(const config::FinetuneConfig& cfg);

class FinetuneEngine : public Engine {
 public:
  /// Builds the datasets, loaders, classifier and optimizer from `cfg` (checked first);
  /// `group`: the processes of a data-parallel run (it must outlive the engine), or none.
  explicit FinetuneEngine(const config::FinetuneConfig& cfg,
                          distributed::Communicator* group = nullptr);
  ~FinetuneEngine() override;

  /// Loads train.pretrained (if set) into the classifier and logs what loaded.
  void fresh_start() override;

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
  /// The dataset's class names (when it has them), so that a resume or an --eval on other
  /// classes is refused.
  std::vector<std::pair<std::string, torch::Tensor>> extra_state() override;
  void restore_extra_state(
      const std::vector<std::pair<std::string, torch::Tensor>>& stored) override;
  void synchronize_state() override;
  void check_replicas() override;
  bool evaluates() const override { return true; }
  Evaluation evaluate() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::train
