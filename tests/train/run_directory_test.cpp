#include "c2fmae/train/run_directory.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/core/usage_error.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {
namespace fs = std::filesystem;

std::string fresh(const char* name) {
  const auto dir = (fs::path(::testing::TempDir()) / name).string();
  fs::remove_all(dir);
  return dir;
}

TEST(RunDirectory, RefusesToOverwriteUnlessResumingOrTold) {
  const auto dir = fresh("c2fmae_run_dir");
  { RunDirectory d(dir, RunDirectoryMode::kNew); }  // empty or missing: fine
  write_text_atomically(dir + "/config.yaml", "a: 1\n");
  std::ofstream(dir + "/notes.txt") << "mine";
  try {
    RunDirectory d(dir, RunDirectoryMode::kNew);
    ADD_FAILURE() << "overwrote a run";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--resume auto"), std::string::npos);
  }
  EXPECT_NO_THROW(RunDirectory(dir, RunDirectoryMode::kResume));
  EXPECT_TRUE(fs::exists(dir + "/config.yaml"));
  { RunDirectory d(dir, RunDirectoryMode::kOverwrite); }
  EXPECT_FALSE(fs::exists(dir + "/config.yaml"));
  EXPECT_TRUE(fs::exists(dir + "/notes.txt"));  // only the run's own files are removed
}

TEST(RunDirectory, ALogAloneFromAFailedStartIsNotARun) {
  const auto dir = fresh("c2fmae_run_dir_log_only");
  fs::create_directories(dir);
  std::ofstream(dir + "/train.log") << "error: no CUDA device\n";
  EXPECT_NO_THROW(RunDirectory(dir, RunDirectoryMode::kNew));
  EXPECT_TRUE(fs::exists(dir + "/train.log"));  // kept: it says why the first start failed
  std::ofstream(dir + "/metrics.jsonl") << "{}\n";
  EXPECT_THROW(RunDirectory(dir, RunDirectoryMode::kNew), UsageError);
}

TEST(RunDirectory, OverwriteRemovesOnlyFilesNamedExactlyAsTheRunWritesThem) {
  const auto dir = fresh("c2fmae_run_dir_overwrite_exact");
  fs::create_directories(dir + "/checkpoint-500");          // a user's folder
  fs::create_directories(dir + "/checkpoint-00000600.pt");  // even one named like a checkpoint
  for (const char* mine :
       {"checkpoint-notes.txt", "latest.pt.bak", "config.yaml.orig", "checkpoint-00000010.pt.keep",
        "metrics.jsonl~", "checkpoint-123.pt", "checkpoint-000000010.pt"}) {
    std::ofstream(dir + "/" + mine) << "user data";
  }
  for (const char* run : {"checkpoint-00000010.pt", "metrics.jsonl", "config.yaml", "train.log",
                          "checkpoint-00000020.pt.tmp.77.0", "config.yaml.tmp.77.1"}) {
    std::ofstream(dir + "/" + run) << "run";
  }
  fs::create_symlink("checkpoint-00000010.pt", dir + "/latest.pt");
  { RunDirectory d(dir, RunDirectoryMode::kOverwrite); }
  for (const char* gone :
       {"checkpoint-00000010.pt", "metrics.jsonl", "config.yaml", "train.log", "latest.pt",
        "checkpoint-00000020.pt.tmp.77.0", "config.yaml.tmp.77.1"}) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(dir + "/" + gone))) << gone;
  }
  for (const char* kept : {"checkpoint-500", "checkpoint-00000600.pt", "checkpoint-notes.txt",
                           "latest.pt.bak", "config.yaml.orig", "checkpoint-00000010.pt.keep",
                           "metrics.jsonl~", "checkpoint-123.pt", "checkpoint-000000010.pt"}) {
    EXPECT_TRUE(fs::exists(dir + "/" + kept)) << kept;
  }
}

TEST(RunDirectory, RunFileNamesAreExactlyThoseARunWrites) {
  EXPECT_EQ(checkpoint_name(7), "checkpoint-00000007.pt");
  EXPECT_EQ(checkpoint_name(123456789), "checkpoint-123456789.pt");
  for (const char* yes : {"checkpoint-00000007.pt", "checkpoint-123456789.pt", "latest.pt",
                          "metrics.jsonl", "train.log", "config.yaml"}) {
    EXPECT_TRUE(is_run_file(yes)) << yes;
  }
  for (const char* no : {"checkpoint-7.pt", "checkpoint-000000007.pt", "checkpoint-00000007.pt.tmp",
                         "latest.pt.bak", "run.lock", "notes.txt"}) {
    EXPECT_FALSE(is_run_file(no)) << no;
  }
  EXPECT_TRUE(is_run_file("checkpoint-00000007.pt.tmp.4242.0", /*temporary=*/true));
  EXPECT_TRUE(is_run_file("latest.pt.tmp.4242.3", /*temporary=*/true));
  // The writers only make unique names: a bare <run file>.tmp is a user's.
  EXPECT_FALSE(is_run_file("checkpoint-00000007.pt.tmp", /*temporary=*/true));
  EXPECT_FALSE(is_run_file("best.pt.tmp", /*temporary=*/true));
  EXPECT_FALSE(is_run_file("train.log.tmp.1.2", /*temporary=*/true));
}

TEST(RunDirectory, OverwriteRemovesAllOfTheRunOrNothing) {
  const auto dir = fresh("c2fmae_run_dir_overwrite_all_or_none");
  fs::create_directories(dir);
  for (const char* run : {"checkpoint-00000010.pt", "config.yaml", "metrics.jsonl"}) {
    std::ofstream(dir + "/" + run) << "run";
  }
  // A file that cannot be moved: the mount point of a bind mount (needs root; skipped
  // where mounting is not allowed).
  std::ofstream(dir + "/train.log") << "log";
  std::ofstream(dir + "/elsewhere") << "x";
  const std::string mount = "mount --bind " + dir + "/elsewhere " + dir + "/train.log 2>/dev/null";
  if (std::system(mount.c_str()) != 0) GTEST_SKIP() << "cannot bind-mount here";
  try {
    RunDirectory d(dir, RunDirectoryMode::kOverwrite);
    ADD_FAILURE() << "removed a busy file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("nothing was removed"), std::string::npos) << e.what();
  }
  std::system(("umount " + dir + "/train.log").c_str());
  for (const char* kept : {"checkpoint-00000010.pt", "config.yaml", "metrics.jsonl", "train.log"}) {
    EXPECT_TRUE(fs::exists(dir + "/" + kept)) << kept;
  }
}

TEST(RunDirectory, StaleTemporaryFilesOfTheRunAreRemovedOnResume) {
  const auto dir = fresh("c2fmae_run_dir_stale_tmp");
  fs::create_directories(dir);
  std::ofstream(dir + "/config.yaml") << "a: 1\n";
  std::ofstream(dir + "/checkpoint-00000050.pt.tmp.4242.0") << std::string(1000, 'x');
  std::ofstream(dir + "/config.yaml.tmp.4242.1") << "half";
  std::ofstream(dir + "/notes.tmp") << "mine";
  std::ofstream(dir + "/best.pt.tmp") << "mine too: no writer makes a bare .tmp";
  std::ofstream(dir + "/latest.pt.tmp.4242.7") << "an atomic write killed half way";
  { RunDirectory d(dir, RunDirectoryMode::kResume); }
  EXPECT_FALSE(fs::exists(dir + "/checkpoint-00000050.pt.tmp.4242.0"));
  EXPECT_FALSE(fs::exists(dir + "/config.yaml.tmp.4242.1"));
  EXPECT_TRUE(fs::exists(dir + "/notes.tmp"));
  EXPECT_TRUE(fs::exists(dir + "/best.pt.tmp"));
  EXPECT_FALSE(fs::exists(dir + "/latest.pt.tmp.4242.7"));
  EXPECT_TRUE(fs::exists(dir + "/config.yaml"));
}

TEST(RunDirectory, ASecondProcessIsRefusedNamingTheHolderAndTouchesNothing) {
  const auto dir = fresh("c2fmae_run_dir_lock");
  RunDirectory held(dir, RunDirectoryMode::kNew);
  std::ofstream(dir + "/config.yaml") << "a: 1\n";
  std::ofstream(dir + "/config.yaml.tmp") << "being written";
  int pipe_fd[2];
  ASSERT_EQ(::pipe(pipe_fd), 0);
  const pid_t child = ::fork();
  if (child == 0) {  // another process: the lock is per open file, so the child is refused
    ::close(pipe_fd[0]);
    std::string message = "accepted";
    try {
      RunDirectory second(dir, RunDirectoryMode::kOverwrite);
    } catch (const UsageError& e) {
      message = e.what();
    } catch (...) {
      message = "other error";
    }
    const ssize_t ignored = ::write(pipe_fd[1], message.data(), message.size());
    (void)ignored;
    _exit(0);
  }
  ::close(pipe_fd[1]);
  std::string message;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipe_fd[0], buf, sizeof buf)) > 0) message.append(buf, n);
  ::close(pipe_fd[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_NE(message.find("in use by another process (PID " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(dir), std::string::npos) << message;
  EXPECT_TRUE(fs::exists(dir + "/config.yaml"));      // not overwritten
  EXPECT_TRUE(fs::exists(dir + "/config.yaml.tmp"));  // not cleaned up under the owner
}

TEST(RunDirectory, OverwriteRemovesNamesTheRunFilesAnInputMustNotBe) {
  const auto dir = testing::fresh_dir("run_dir_overwrite_removes");
  fs::create_directories(dir + "/run/pictures");
  for (const char* f : {"run/best.pt", "run/checkpoint-00000010.pt", "run/mine.safetensors",
                        "run/pictures/step_00000010.png", "elsewhere.pt"})
    std::ofstream(dir + "/" + f) << "x";
  fs::create_symlink(dir + "/run/best.pt", dir + "/link.pt");
  EXPECT_TRUE(overwrite_removes(dir + "/run", dir + "/run/best.pt"));
  EXPECT_TRUE(overwrite_removes(dir + "/run", dir + "/run/./checkpoint-00000010.pt"));
  EXPECT_TRUE(overwrite_removes(dir + "/run", dir + "/link.pt"));  // through a link
  EXPECT_TRUE(overwrite_removes(dir + "/run", dir + "/run/pictures/step_00000010.png"));
  EXPECT_FALSE(overwrite_removes(dir + "/run", dir + "/run/mine.safetensors"));
  EXPECT_FALSE(overwrite_removes(dir + "/run", dir + "/elsewhere.pt"));
  EXPECT_FALSE(overwrite_removes(dir + "/run", dir + "/missing.pt"));
}

TEST(RunDirectory, APathThatIsAFileIsAUsageError) {
  const auto file = fresh("c2fmae_run_dir_is_file");
  std::ofstream(file) << "x";
  EXPECT_THROW(RunDirectory(file, RunDirectoryMode::kNew), UsageError);
}

}  // namespace
}  // namespace c2fmae::train
