// The label a patch "belongs to": the most frequent label among its pixels.
#pragma once
#include <torch/types.h>

namespace c2fmae::masking {

/// map: [B, H, W] int64 -> [B, L] int64, L = (H/p) * (W/p) row-major. Ties go to the
/// smallest label.
torch::Tensor patch_majority(const torch::Tensor& map, int64_t patch);

}  // namespace c2fmae::masking
