// RGB loss: mean squared error on masked patches, targets normalised per patch
// (MAE's norm_pix_loss: (x - mean) / sqrt(var + 1e-6), unbiased variance).
#pragma once
#include <torch/types.h>

#include "c2fmae/losses/reduction.h"

namespace c2fmae::losses {

/// pred: [N, p*p*3] for rows [N] (b * L + l, the masked tokens); images: [B, 3, H, W]
/// -> the ratio (reduction.h). Other tokens' targets are never read.
LossRatio rgb_loss(const torch::Tensor& pred, const torch::Tensor& images,
                   const torch::Tensor& rows, int64_t patch, bool norm_pix,
                   Reduction reduction = Reduction::kPixels);

}  // namespace c2fmae::losses
