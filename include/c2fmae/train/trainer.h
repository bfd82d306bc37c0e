// Pre-training: a plain loop over numbered steps in one class (no hook framework).
//
//   Trainer trainer(config, {.resume = "auto"});
//   auto result = trainer.run();
//
// Per step: the batch of this step (data position = step), the curriculum's mask, forward
// (bf16 autocast on CUDA), the weighted loss, backward, optional clipping, fused AdamW at the
// schedule's lr. Masks, batches and every RNG draw are functions of (seed, step), so a run
// stopped and resumed at step N reproduces the uninterrupted run after N (bit-exact on
// CPU). A non-finite loss skips the step; too many in a row stop the run after writing a
// checkpoint of the last good state. SIGINT / SIGTERM finish the step, write a checkpoint
// and return kInterrupted. Only rank 0 writes files.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>

#include "c2fmae/config/config.h"

namespace c2fmae::train {

struct TrainerOptions {
  /// "" (fresh run), "auto" (newest valid checkpoint of the run directory, if any) or a
  /// checkpoint path.
  std::string resume;
  /// Start over in a run directory that already holds a run.
  bool overwrite = false;
  /// The command as typed, for the "how to resume" message.
  std::string command_line;
};

struct TrainResult {
  enum class Status { kCompleted, kStoppedAtMaxSteps, kInterrupted };
  Status status = Status::kCompleted;
  int64_t step = 0;
  int64_t total_steps = 0;
  std::string checkpoint;  ///< the last checkpoint written
  int signal = 0;          ///< the signal that interrupted the run
};

/// Thrown when train.max_nonfinite consecutive steps had a non-finite loss.
struct NonFiniteLossError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Trainer {
 public:
  Trainer(config::Config config, TrainerOptions options);
  ~Trainer();
  /// Sets up (run directory, model, data), resumes if asked and trains. Failures are logged
  /// (to the terminal and the run's train.log) before they propagate: ConfigError for a
  /// refused config, NonFiniteLossError, std::runtime_error otherwise.
  TrainResult run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::train
