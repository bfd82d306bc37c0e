// Semantic loss: cross-entropy over the C x q x q logits of each masked token, where
// q = p / 4 (the 1/4-resolution map, as MultiMAE's semantic output). Pixels of class
// kIgnoreClass do not count.
#pragma once
#include <torch/types.h>

namespace c2fmae::losses {

/// logits: [B, L, q*q*C] (pixel-major, then class); target: [B, h, w] int64 at 1/4
/// resolution; masked: [B, L] bool (true = masked, see core/mask.h) -> scalar.
/// Targets of visible tokens are never read.
torch::Tensor semantic_loss(const torch::Tensor& logits, const torch::Tensor& target,
                            const torch::Tensor& masked, int64_t num_classes);

}  // namespace c2fmae::losses
