// One training sample: the three granularities of an image and its class label.
#pragma once
#include <torch/types.h>

namespace c2fmae::data {

struct Sample {
  torch::Tensor rgb;       ///< [3, H, W] uint8
  torch::Tensor semantic;  ///< [H, W] int64 class, kIgnoreClass = ignore
  torch::Tensor instance;  ///< [H, W] int64 id, kNoInstance = none (16-bit values)
  int64_t label = -1;      ///< image class, -1 if unknown
};

}  // namespace c2fmae::data
