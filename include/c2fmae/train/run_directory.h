// The run directory: config.yaml, train.log, metrics.jsonl, checkpoints. A run never
// writes into an existing run's directory unless it resumes it or is told to overwrite.
#pragma once
#include <string>

namespace c2fmae::train {

enum class RunDirectoryMode { kNew, kResume, kOverwrite };

/// Creates `path` for a run; throws std::runtime_error if it holds files (other than a
/// train.log alone, left by a start that failed) and `mode` is kNew (the message says how
/// to resume or overwrite). kOverwrite removes the checkpoints
/// and logs of the earlier run first.
void prepare_run_directory(const std::string& path, RunDirectoryMode mode);

}  // namespace c2fmae::train
