// The one struct that carries a batch through data -> masking -> model -> losses -> train.
#pragma once
#include <torch/types.h>

namespace c2fmae {

struct Batch {
  torch::Tensor rgb;       ///< [B, 3, H, W] float, normalised (ImageNet mean / std)
  torch::Tensor semantic;  ///< [B, H, W] int64 class index, kIgnoreClass = ignore
  torch::Tensor instance;  ///< [B, H, W] int64 instance id, kNoInstance = none; ids arbitrary
  torch::Tensor label;     ///< [B] int64 image class (fine-tuning, evaluation)
  torch::Tensor mask;      ///< [B, M, L] bool token mask, convention in mask.h

  /// Number of samples (from the first defined field; 0 if none).
  int64_t size() const;
  /// The same batch on `device` (undefined fields stay undefined).
  Batch to(const torch::Device& device, bool non_blocking = false) const;
  /// Samples `index` ([K] int64) of every defined field.
  Batch select(const torch::Tensor& index) const;
};

}  // namespace c2fmae
