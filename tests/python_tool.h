// Helpers of the tests that run our Python tools (tools/*.py) as a user would.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace c2fmae::testing {

/// A new, empty folder `name` under the test temp dir (emptied if it exists).
inline std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

/// Whether C2FMAE_PYTHON_BIN names an executable (a path, or a name found on PATH).
inline bool python_present() {
  const std::string bin = C2FMAE_PYTHON_BIN;
  if (bin.empty()) return false;
  if (bin.find('/') != std::string::npos) return ::access(bin.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((std::filesystem::path(dir) / bin).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

/// `s` single-quoted for the shell.
inline std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace c2fmae::testing
