#include "c2fmae/train/run_directory.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace c2fmae::train {
namespace fs = std::filesystem;

void prepare_run_directory(const std::string& path, RunDirectoryMode mode) {
  if (fs::exists(path) && !fs::is_directory(path)) {
    throw std::runtime_error("run directory " + path + " exists and is not a directory");
  }
  // A train.log alone is what a start that failed before training left: not a run.
  bool has_files = false;
  if (fs::exists(path)) {
    for (const auto& e : fs::directory_iterator(path))
      has_files |= e.path().filename() != "train.log";
  }
  if (has_files && mode == RunDirectoryMode::kNew) {
    throw std::runtime_error("run directory " + path +
                             " already holds a run\nhint: add --resume auto "
                             "to continue it, --overwrite to start it over, or choose another "
                             "--output-dir");
  }
  if (has_files && mode == RunDirectoryMode::kOverwrite) {
    for (const auto& e : fs::directory_iterator(path)) {
      const auto name = e.path().filename().string();
      if (name.rfind("checkpoint-", 0) == 0 || name.rfind("latest.pt", 0) == 0 ||
          name == "metrics.jsonl" || name == "train.log" || name == "config.yaml") {
        fs::remove(e.path());
      }
    }
  }
  fs::create_directories(path);
}

}  // namespace c2fmae::train
