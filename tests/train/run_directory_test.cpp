#include "c2fmae/train/run_directory.h"

#include "c2fmae/core/atomic_file.h"

#include <filesystem>
#include <fstream>

#include "test_helpers.h"

namespace c2fmae::train {
namespace {
namespace fs = std::filesystem;

TEST(RunDirectory, RefusesToOverwriteUnlessResumingOrTold) {
  const auto dir = (fs::path(::testing::TempDir()) / "c2fmae_run_dir").string();
  fs::remove_all(dir);
  prepare_run_directory(dir, RunDirectoryMode::kNew);  // empty or missing: fine
  write_text_atomically(dir + "/config.yaml", "a: 1\n");
  std::ofstream(dir + "/notes.txt") << "mine";
  try {
    prepare_run_directory(dir, RunDirectoryMode::kNew);
    ADD_FAILURE() << "overwrote a run";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume auto"), std::string::npos);
  }
  EXPECT_NO_THROW(prepare_run_directory(dir, RunDirectoryMode::kResume));
  EXPECT_TRUE(fs::exists(dir + "/config.yaml"));
  prepare_run_directory(dir, RunDirectoryMode::kOverwrite);
  EXPECT_FALSE(fs::exists(dir + "/config.yaml"));
  EXPECT_TRUE(fs::exists(dir + "/notes.txt"));  // only the run's own files are removed
}

TEST(RunDirectory, ALogAloneFromAFailedStartIsNotARun) {
  const auto dir = (fs::path(::testing::TempDir()) / "c2fmae_run_dir_log_only").string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/train.log") << "error: no CUDA device\n";
  EXPECT_NO_THROW(prepare_run_directory(dir, RunDirectoryMode::kNew));
  EXPECT_TRUE(fs::exists(dir + "/train.log"));  // kept: it says why the first start failed
  std::ofstream(dir + "/metrics.jsonl") << "{}\n";
  EXPECT_THROW(prepare_run_directory(dir, RunDirectoryMode::kNew), std::runtime_error);
}

}  // namespace
}  // namespace c2fmae::train
