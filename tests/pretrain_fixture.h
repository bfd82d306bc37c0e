// A tiny pre-training config for the trainer and program tests (~30 ms per step on CPU).
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace c2fmae::testing {

inline const char* kTinyPretrainYaml = R"(model:
  preset: tiny
  img_size: 64
  embed_dim: 48
  depth: 2
  num_heads: 3
  num_semantic_classes: 10
  decoder_dim: 32
  decoder_depth: 1
  decoder_heads: 2
masking:
  num_visible: 12
data:
  batch_size: 8
  num_workers: 1
  synthetic_samples: 320
optim:
  lr: 2.0e-3
  warmup_epochs: 0.1
train:
  epochs: 2
  checkpoint_every: 10
  keep_last: 2
  precision: fp32
log:
  every: 1
  progress: false
)";

/// A fresh folder under the test temp dir holding tiny.yaml; returns the folder.
inline std::string tiny_pretrain_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tiny.yaml") << kTinyPretrainYaml;
  return dir.string();
}

}  // namespace c2fmae::testing
