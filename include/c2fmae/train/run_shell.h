// The run shell every training program shares: a plain loop over numbered steps of an
// Engine, with everything around it that a run needs.
//
//   PretrainEngine engine(cfg);                         // builds model, data, ...; no files
//   RunShell shell(cfg, cfg.train, cfg.log, {.resume = "auto"});
//   RunResult result = shell.run(engine);
//
// The shell owns the run directory (never reused without --resume or --overwrite; a failed
// start leaves none), train.log, config.yaml, metrics.jsonl (what a hard-killed run logged
// after its checkpoint is dropped on resume), checkpoints (cadence, keep-last, latest.pt,
// resume lookup and the comparison of the stored config with this one), the progress line,
// SIGINT / SIGTERM (finish the step, checkpoint, return kInterrupted) and the non-finite
// policy (skip and count; too many in a row stop the run after a checkpoint of the last good
// state). Only a process with `writer` set writes files (rank 0 of a distributed run).
//
// A data-parallel run (RunOptions::group) agrees on every decision at a step boundary: a stop
// signal on any process stops all of them after the same step (one all-reduce of a flag per
// step); skips and the non-finite limit follow from the engine's all-reduced loss and norm;
// rank 0 alone resumes (its checkpoint's state is then broadcast) and writes the run
// directory, and the ranks' parameters are compared at every checkpoint.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "c2fmae/config/config.h"
#include "c2fmae/distributed/communicator.h"
#include "c2fmae/train/engine.h"

namespace c2fmae::train {

struct RunOptions {
  /// "" (fresh run), "auto" (newest valid checkpoint of the run directory, if any) or a
  /// checkpoint path.
  std::string resume;
  /// Start over in a run directory that already holds a run.
  bool overwrite = false;
  /// The command as typed, for the "how to resume" message.
  std::string command_line;
  /// Whether this process writes the run directory (false on all but one rank).
  bool writer = true;
  /// The processes of a data-parallel run (null: one process); rank 0 must be the writer.
  distributed::Communicator* group = nullptr;
  /// Sections a resumed checkpoint's config must match (else the resume is refused).
  std::vector<std::string> fixed_sections = {"model"};
};

struct RunResult {
  enum class Status { kCompleted, kStoppedAtMaxSteps, kInterrupted };
  Status status = Status::kCompleted;
  int64_t step = 0;
  int64_t total_steps = 0;
  std::string checkpoint;  ///< the last checkpoint written
  int signal = 0;          ///< the signal that interrupted the run (SIGTERM: another rank's)
};

/// Thrown when train.max_nonfinite consecutive steps were skipped.
struct NonFiniteLossError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Data-parallel runs, before anything is built: throws UsageError on every process if any
/// process's resolved `config` differs from rank 0's (but for the keys free to differ between
/// processes: is_free_key in run_shell.cpp), so
/// that processes started with other values fail at once rather than deadlock or diverge.
void check_same_config(distributed::Communicator& group, const config::ConfigRoot& config);

class RunShell {
 public:
  /// `config` is the program's whole resolved config (dumped, compared on resume); `train`
  /// and `log` are its sections the shell reads.
  RunShell(const config::ConfigRoot& config, const config::TrainConfig& train,
           const config::LogConfig& log, RunOptions options);
  ~RunShell();
  /// Prepares the run directory, resumes if asked and runs the engine's steps. Failures are
  /// logged (to the terminal and the run's train.log) before they propagate: ConfigError
  /// for a refused config, NonFiniteLossError, std::runtime_error otherwise.
  RunResult run(Engine& engine);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2fmae::train
