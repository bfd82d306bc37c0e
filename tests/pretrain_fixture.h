// The tiny pre-training config the trainer and program tests share: configs/debug/tiny.yaml
// (~30 ms per step on CPU), copied into a fresh folder per test.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace c2fmae::testing {

/// configs/debug/tiny.yaml in the source tree.
inline std::string tiny_pretrain_yaml() {
  return std::string(C2FMAE_SOURCE_DIR) + "/configs/debug/tiny.yaml";
}

/// A fresh folder under the test temp dir holding tiny.yaml; returns the folder.
inline std::string tiny_pretrain_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(tiny_pretrain_yaml(), dir / "tiny.yaml");
  return dir.string();
}

/// configs/debug/tiny_finetune.yaml (the encoder of tiny.yaml, classifying) copied into
/// `dir` as tiny_finetune.yaml; returns its path.
inline std::string add_tiny_finetune_yaml(const std::string& dir) {
  const auto to = std::filesystem::path(dir) / "tiny_finetune.yaml";
  std::filesystem::copy_file(std::string(C2FMAE_SOURCE_DIR) + "/configs/debug/tiny_finetune.yaml",
                             to, std::filesystem::copy_options::overwrite_existing);
  return to.string();
}

}  // namespace c2fmae::testing
