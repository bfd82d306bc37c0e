#include "c2fmae/train/run_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <vector>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::train {
namespace fs = std::filesystem;
namespace {

std::string os_reason(int err) { return std::strerror(err); }

/// The PID written in a held lock file ("" if unreadable).
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

std::string checkpoint_name(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%08lld.pt", static_cast<long long>(step));
  return name;
}

bool is_run_file(const std::string& name, bool temporary) {
  static const std::regex kRunFile(
      R"((checkpoint-([0-9]{8,18})\.pt|latest\.pt|best\.pt|metrics\.jsonl|train\.log|config\.yaml))");
  static const std::regex kTemporary(
      R"((checkpoint-([0-9]{8,18})\.pt|latest\.pt|best\.pt|metrics\.jsonl|config\.yaml)\.tmp\.[0-9]+\.[0-9]+)");
  std::smatch m;
  if (!std::regex_match(name, m, temporary ? kTemporary : kRunFile)) return false;
  // A checkpoint's name is exactly what checkpoint_name writes for its step (no extra zeros).
  return !m[2].matched || checkpoint_name(std::stoll(m[2].str())) == m[1].str();
}

bool overwrite_removes(const std::string& run_dir, const std::string& path) {
  std::error_code ec;
  const auto file = fs::canonical(path, ec);
  if (ec) return false;
  const auto dir = fs::canonical(run_dir, ec);
  if (ec) return false;
  const auto name = file.filename().string();
  if (file.parent_path() == dir) return is_run_file(name);
  static const std::regex kPicture(R"(step_[0-9]{8,18}\.png)");
  return file.parent_path() == dir / kPicturesDirName && std::regex_match(name, kPicture);
}

namespace {

/// Removes all of `files` or, if one cannot go, none: each is first moved into a folder of
/// its own inside the run directory (a rename, undone if a later one fails), then that
/// folder is removed.
void remove_all_or_none(const std::vector<fs::path>& files) {
  const auto trash = files.front().parent_path() / (".overwrite-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directory(trash, ec);
  if (ec) {
    throw std::runtime_error("cannot remove the earlier run's files from " +
                             files.front().parent_path().string() + ": " + ec.message());
  }
  std::vector<fs::path> moved;
  for (const auto& f : files) {
    fs::rename(f, trash / f.filename(), ec);
    if (ec) {
      const auto reason = ec.message();
      for (const auto& back : moved) fs::rename(trash / back.filename(), back, ec);
      fs::remove(trash, ec);
      throw std::runtime_error("cannot remove " + f.string() + ": " + reason +
                               "; nothing was removed");
    }
    moved.push_back(f);
  }
  fs::remove_all(trash, ec);
  if (ec) throw std::runtime_error("cannot remove " + trash.string() + ": " + ec.message());
}

}  // namespace

std::string RunDirectory::file(const std::string& name) const {
  return (fs::path(path_) / name).string();
}

RunDirectory::RunDirectory(std::string path, RunDirectoryMode mode) : path_(std::move(path)) {
  std::error_code ec;
  if (fs::exists(path_, ec) && !fs::is_directory(path_, ec)) {
    throw UsageError(with_hint("run directory " + path_ + " exists and is not a directory",
                               "choose another --output-dir"));
  }
  // The highest folder this creates, so that a refused start removes all it made.
  for (fs::path p = fs::absolute(path_, ec); !p.empty() && !fs::exists(p, ec);
       p = p.parent_path()) {
    first_created_ = p;
    if (p == p.parent_path()) break;
  }
  created_ = fs::create_directories(path_, ec);
  if (ec == std::errc::not_a_directory) {
    throw UsageError(with_hint("run directory " + path_ + " is inside a file, not a directory",
                               "choose another --output-dir"));
  }
  if (ec) throw std::runtime_error("cannot create run directory " + path_ + ": " + ec.message());

  // The lock first: a second process must not change anything.
  const auto lock_path = file(kRunLockName);
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 && errno == EACCES) lock_fd_ = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (lock_fd_ < 0) {
    throw std::runtime_error("cannot open " + lock_path + ": " + os_reason(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string pid = holder_pid(lock_fd_);
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw UsageError(
          with_hint("run directory " + path_ + " is in use by another process" +
                        (pid.empty() ? "" : " (PID " + pid + ")"),
                    "wait for that run to end or stop it, or choose another --output-dir"));
    }
    throw std::runtime_error("cannot lock " + lock_path + ": " + os_reason(err));
  }
  try {
    adopt(mode);
  } catch (...) {
    ::close(lock_fd_);  // a refused start must not keep the directory locked
    lock_fd_ = -1;
    throw;
  }
}

void RunDirectory::adopt(RunDirectoryMode mode) {
  std::error_code ec;
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0) {
    const ssize_t ignored = ::pwrite(lock_fd_, pid.data(), pid.size(), 0);
    (void)ignored;  // the PID is informative; a read-only directory still locks
  }

  std::vector<fs::path> run_files, temporary;
  bool holds_run = false;
  for (const auto& e : fs::directory_iterator(path_)) {
    const auto name = e.path().filename().string();
    if (is_run_file(name, /*temporary=*/true)) {
      temporary.push_back(e.path());
      continue;
    }
    if (name == kRunLockName) continue;
    // A train.log alone is what a start that failed before training left: not a run.
    holds_run |= name != "train.log";
    const bool removable = e.is_symlink(ec) || e.is_regular_file(ec);  // a link loop: a link
    if (removable && is_run_file(name)) run_files.push_back(e.path());
  }
  // pictures/ (the shell's PNGs): with --overwrite the old run's go, stale temporaries always.
  static const std::regex kPicture(R"(step_[0-9]{8,18}\.png)");
  static const std::regex kPictureTemporary(R"(step_[0-9]{8,18}\.png\.tmp\.[0-9]+\.[0-9]+)");
  const fs::path pictures = fs::path(path_) / kPicturesDirName;
  if (fs::is_directory(fs::symlink_status(pictures, ec))) {
    for (const auto& e : fs::directory_iterator(pictures, ec)) {
      const auto name = e.path().filename().string();
      if (!(e.is_symlink(ec) || e.is_regular_file(ec))) continue;
      if (std::regex_match(name, kPictureTemporary)) {
        temporary.push_back(e.path());
      } else if (std::regex_match(name, kPicture) && mode == RunDirectoryMode::kOverwrite) {
        run_files.push_back(e.path());
      }
    }
  }
  if (holds_run && mode == RunDirectoryMode::kNew) {
    throw UsageError(with_hint("run directory " + path_ + " already holds a run",
                               "add --resume auto to continue it, --overwrite to start it over, "
                               "or choose another --output-dir"));
  }
  if (mode == RunDirectoryMode::kOverwrite && !run_files.empty()) remove_all_or_none(run_files);
  for (const auto& t : temporary) fs::remove(t, ec);  // stale: a write that never finished
}

void RunDirectory::discard_failed_start() {
  std::error_code ec;
  fs::remove(file("train.log"), ec);
  fs::remove(file(kRunLockName), ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
  // The directory, then each folder above it that this start created, while empty.
  for (fs::path p = fs::absolute(path_, ec); !p.empty(); p = p.parent_path()) {
    if (!fs::remove(p, ec) || p == first_created_ || p == p.parent_path()) break;
  }
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

}  // namespace c2fmae::train
