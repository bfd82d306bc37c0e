// RGB loss: mean squared error on masked patches, targets normalised per patch
// (MAE's norm_pix_loss: (x - mean) / sqrt(var + 1e-6), unbiased variance).
#pragma once
#include <torch/types.h>

namespace c2fmae::losses {

/// pred: [B, L, p*p*3]; images: [B, 3, H, W]; masked: [B, L] bool -> scalar.
/// Targets of visible tokens are never read.
torch::Tensor rgb_loss(const torch::Tensor& pred, const torch::Tensor& images,
                       const torch::Tensor& masked, int64_t patch, bool norm_pix);

}  // namespace c2fmae::losses
