// The run directory: config.yaml, train.log, metrics.jsonl, checkpoints. It belongs to one
// process at a time: opening it takes an advisory lock (flock on run.lock, which holds the
// owner's PID; the kernel releases it when the process dies), and a second process is
// refused before it changes anything. A run never writes into an existing run's directory
// unless it resumes it or is told to overwrite it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace c2fmae::train {

enum class RunDirectoryMode { kNew, kResume, kOverwrite };

/// The lock file's name inside a run directory.
constexpr const char* kRunLockName = "run.lock";
/// The folder of a run's pictures (Engine::picture): pictures/step_<8+ digits>.png.
constexpr const char* kPicturesDirName = "pictures";

class RunDirectory {
 public:
  /// Creates `path` if needed, locks it, then:
  /// - kNew: refuses (UsageError, with how to resume or overwrite) if it holds a run (files
  ///   other than a train.log left by a start that failed, the lock and temporary files);
  /// - kOverwrite: removes the earlier run's own files (checkpoint-<step>.pt, latest.pt,
  ///   best.pt, metrics.jsonl, train.log, config.yaml), and only those: all of them or, if one
  ///   cannot go, none (they are moved aside first, and moved back on a failure);
  /// and in every mode removes the run's stale temporary files (<name>.tmp of those).
  /// Throws UsageError if `path` is not a directory or another process holds it (naming
  /// its PID), std::runtime_error with the OS reason if it cannot be created or locked.
  RunDirectory(std::string path, RunDirectoryMode mode);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::string& path() const { return path_; }
  /// Whether this process created the directory (it did not exist before).
  bool created() const { return created_; }
  /// A start that failed before the run began, in a directory it created: removes the lock
  /// and train.log, then the directory if nothing else is in it, so that a refused start
  /// leaves nothing behind. Releases the lock.
  void discard_failed_start();
  /// `name` inside the directory.
  std::string file(const std::string& name) const;

 private:
  /// With the lock held: applies `mode` and removes stale temporary files.
  void adopt(RunDirectoryMode mode);

  std::string path_;
  int lock_fd_ = -1;
  bool created_ = false;
  std::filesystem::path first_created_;  ///< the highest folder the constructor created
};

/// Whether `path` (through links) is a file that kOverwrite would remove from run directory
/// `run_dir`: a run file in it, or one of its pictures. An input given beside --overwrite
/// must not be one (it would be gone before it is read).
bool overwrite_removes(const std::string& run_dir, const std::string& path);

/// "checkpoint-%08d.pt": the name of the checkpoint of `step`.
std::string checkpoint_name(int64_t step);

/// Whether `name` is one of the files a run writes (checkpoint_name(step), latest.pt,
/// best.pt, metrics.jsonl, train.log, config.yaml), or with `temporary` one of their ".tmp" files.
bool is_run_file(const std::string& name, bool temporary = false);

}  // namespace c2fmae::train
