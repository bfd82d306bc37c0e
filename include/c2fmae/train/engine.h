// What a training program plugs into the run shell (run_shell.h): the model and optimizer
// it checkpoints, and one numbered optimizer step at a time. The pre-training engine
// (pretrain_engine.h) is one, fine-tuning (finetune_engine.h) another. An engine touches no
// file: the shell owns the run directory, the logs, signals, checkpoints, the non-finite
// policy and, for an engine that evaluates, when it does and the best checkpoint.
#pragma once
#include <torch/nn/module.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/optim/adamw.h"
#include "c2fmae/train/metrics_log.h"

namespace c2fmae::train {

/// What one optimizer step produced.
struct StepOutcome {
  /// True when the step changed nothing (a non-finite loss or gradient norm).
  bool skipped = false;
  /// Why it was skipped, e.g. "non-finite loss (nan)".
  std::string skip_reason;
  /// The loss the progress line and metrics show (averaged over micro-batches).
  double loss = 0.0;
  /// Wall time of the step in seconds.
  double seconds = 0.0;
  /// The engine's own metrics.jsonl fields, after step, epoch and loss (loss terms, lr, ...).
  MetricsRecord metrics;
  /// The human log line's middle part, e.g. "(rgb 0.52) lr 0.001".
  std::string summary;
};

/// What evaluating the model produced (fine-tuning: the validation split's accuracy).
struct Evaluation {
  /// metrics.jsonl fields of the evaluation line, e.g. val_loss, val_top1, val_top5.
  MetricsRecord metrics;
  /// Higher is better: the best checkpoint (best.pt) is the one of the highest score.
  double score = 0.0;
  /// What the score is, e.g. "val_top1".
  std::string score_name;
  /// The human log line's text, e.g. "val top-1 81.2 % top-5 95.4 % (50000 images)".
  std::string summary;
  /// False when the evaluation met NaN or Inf (its loss, or the model's outputs): its score
  /// then measures nothing, and it is never the best.
  bool finite = true;

  /// Whether this evaluation is a new best after `best_score` (NaN: none yet): a finite
  /// evaluation of a finite score above it.
  bool improves_on(double best_score) const {
    return finite && std::isfinite(score) && (std::isnan(best_score) || score > best_score);
  }
};

class Engine {
 public:
  virtual ~Engine() = default;
  /// Optimizer steps in the whole run.
  virtual int64_t total_steps() const = 0;
  virtual int64_t steps_per_epoch() const = 0;
  /// Samples per optimizer step over every process and micro-step (for images/s).
  virtual int64_t samples_per_step() const = 0;
  virtual torch::Device device() const = 0;
  /// Runs optimizer step `step` (0-based); a pure function of the state and the step.
  virtual StepOutcome run_step(int64_t step) = 0;
  /// What checkpoints hold.
  virtual torch::nn::Module& module() = 0;
  virtual optim::AdamW& optimizer() = 0;
  /// Rows of the start-up table after the resolved config (device, parameters, lr, ...).
  virtual std::vector<std::pair<std::string, std::string>> describe() const = 0;
  /// The hint of the error when train.max_nonfinite steps in a row were skipped.
  virtual std::string nonfinite_hint() const = 0;
  /// Run totals the engine keeps (e.g. bad samples skipped), saved in checkpoints and
  /// handed back on resume, so that they continue across restarts.
  virtual std::map<std::string, int64_t> counters() const { return {}; }
  virtual void restore_counters(const std::map<std::string, int64_t>& /*counters*/) {}
  /// Training state beside the model and optimizer (e.g. the EMA encoder of the
  /// attention-guided mask generators), by name: saved in checkpoints and handed back on
  /// resume (what the checkpoint holds of it: possibly none, for a checkpoint of a run
  /// that had none). Data-parallel engines broadcast it in synchronize_state().
  virtual std::vector<std::pair<std::string, torch::Tensor>> extra_state() { return {}; }
  virtual void restore_extra_state(
      const std::vector<std::pair<std::string, torch::Tensor>>& /*stored*/) {}
  /// A run that starts at step 0 (nothing resumed): e.g. loads train.pretrained. The
  /// writing process only; data-parallel runs then broadcast its state.
  virtual void fresh_start() {}
  /// Data-parallel runs: makes every process's model and optimizer state rank 0's (after
  /// rank 0 resumed from a checkpoint). One process: nothing to do.
  virtual void synchronize_state() {}
  /// Data-parallel runs: throws std::runtime_error if the processes' parameters are not
  /// identical (the shell checks at every checkpoint). One process: nothing to check.
  virtual void check_replicas() {}
  /// A picture of what the model does after `step` steps ([H, W, 3] uint8 RGB), or an
  /// undefined tensor for none: the writing process's shell saves it as a PNG in pictures/
  /// every log.pictures_every epochs and when the run ends.
  virtual torch::Tensor picture(int64_t /*step*/) { return {}; }
  /// Whether the shell evaluates after every epoch and at the end, keeping best.pt.
  virtual bool evaluates() const { return false; }
  /// Evaluates the current weights (data-parallel: on every process, each its share, the
  /// figures summed over them). Leaves the model in training mode.
  virtual Evaluation evaluate() { return {}; }
};

}  // namespace c2fmae::train
