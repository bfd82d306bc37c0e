// Checkpoints: model, optimizer, step, epoch, RNG states, data position and curriculum
// state in one archive, written atomically (temporary file, fsync, rename, fsync of the
// folder), the newest k kept, `latest.pt` a symlink to the newest.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/optim/adamw.h"

namespace c2fmae::train {

/// Training progress stored beside the weights. Everything else a resumed run needs (data
/// position, curriculum weights, learning rate) is a function of the step.
struct TrainingState {
  int64_t step = 0;             ///< optimizer steps done
  int64_t nonfinite_total = 0;  ///< steps skipped for a non-finite loss or gradient
  /// Of nonfinite_total, the steps after `step` (the checkpoint of the last good state of a
  /// run train.max_nonfinite stopped): a resume replays them, so it counts them again.
  int64_t nonfinite_replayed = 0;
  std::string config_yaml;                  ///< the resolved config of the run
  std::map<std::string, int64_t> counters;  ///< the engine's run totals (Engine::counters)
  /// The engine's extra state (Engine::extra_state), by name; loaded on the CPU.
  std::vector<std::pair<std::string, torch::Tensor>> extra;
  /// Evaluating engines: the best score so far (NaN: none yet) and the step it was reached at
  /// (the weights of best.pt).
  double best_score = std::numeric_limits<double>::quiet_NaN();
  int64_t best_step = 0;
};

/// Writes `path` atomically (core/atomic_file.h); the writing process only.
void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const optim::AdamW& optimizer, const TrainingState& state);

/// Loads `path` into model and optimizer and restores the RNG states, returning the
/// training state; with a null model only reads and checks the state. Throws
/// std::runtime_error naming the file if it is unreadable or incomplete. `check` sees the
/// stored state before anything is loaded and may throw to refuse the checkpoint.
TrainingState load_checkpoint(const std::string& path, torch::nn::Module* model,
                              optim::AdamW* optimizer, const torch::Device& device,
                              const std::function<void(const TrainingState&)>& check = {});

/// A checkpoint that exists but this process may not read (permissions, an I/O error):
/// unlike a corrupt one, it may be fine tomorrow, so it is never skipped over.
struct CheckpointAccessError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What looking for a checkpoint to resume from found.
struct CheckpointSearch {
  std::optional<std::string> path;    ///< the one to resume from, if any loads
  std::vector<std::string> failures;  ///< why each one tried before it did not load
  bool unreadable = false;            ///< one of those could not be read (CheckpointAccessError)
};

/// The checkpoint files of a run directory, written and pruned together.
class CheckpointManager {
 public:
  CheckpointManager(std::string directory, int64_t keep_last);
  /// Writes checkpoint-<step>.pt, points latest.pt at it and keeps it and the keep_last - 1
  /// checkpoints of highest step below it, removing older ones; returns the path written.
  /// Checkpoints of a higher step (left by a run resumed from an earlier one) stay.
  std::string save(torch::nn::Module& model, const optim::AdamW& optimizer,
                   const TrainingState& state);
  /// Checkpoint files, highest step first.
  std::vector<std::string> list() const;
  /// The existing checkpoint latest.pt points at, if any.
  std::optional<std::string> latest() const;
  /// The checkpoint to resume from: latest.pt's if it loads, else the highest-step one that
  /// loads (corrupt ones are skipped with a warning), if any.
  std::optional<std::string> newest_valid() const;
  /// As newest_valid(), with the reason each checkpoint tried before it failed.
  CheckpointSearch search() const;

 private:
  std::string directory_;
  int64_t keep_last_;
};

}  // namespace c2fmae::train
