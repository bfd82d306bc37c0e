// Semantic loss: cross-entropy over the C x q x q logits of each masked token, where
// q = p / 4 (the 1/4-resolution map, as MultiMAE's semantic output), computed in fp32.
// Pixels of class kIgnoreClass do not count (MultiMAE's maps have none).
#pragma once
#include <torch/types.h>

#include "c2fmae/losses/reduction.h"

namespace c2fmae::losses {

/// logits: [N, q*q*C] (pixel-major, then class) for rows [N] (b * L + l, the masked tokens);
/// target: [B, h, w] classes at the label resolution -> the ratio (reduction.h). Other
/// tokens' targets are never read.
LossRatio semantic_loss(const torch::Tensor& logits, const torch::Tensor& target,
                        const torch::Tensor& rows, int64_t num_classes,
                        Reduction reduction = Reduction::kPixels);

}  // namespace c2fmae::losses
