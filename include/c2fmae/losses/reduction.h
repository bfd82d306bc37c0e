// How a loss term averages over the masked tokens of a batch (a config key, loss.reduction):
//
//   pixels   (ours): one mean over every counted pixel of the batch's masked tokens, so a
//                    sample weighs by how many of its tokens are masked;
//   samples  (MultiMAE, multimae/criterion.py): a mean per sample over its masked tokens,
//                    then the mean over the samples that have any (nanmean).
//
// Every reduction here is over fixed-size [B] tensors on the device: no host sync.
//
// A term is a ratio (LossRatio): a sum over what was counted, and the count it is divided by
// (pixels, tokens, or samples that have any). A data-parallel run sums the counts over its
// processes before dividing (C2fmaeLoss's CountSum), so that W processes of batch b divide
// by what one process of batch W * b divides by.
#pragma once
#include <torch/types.h>

#include "c2fmae/config/sections.h"

namespace c2fmae::losses {

/// The config's enum (loss.reduction), under the name this area uses.
using Reduction = config::Reduction;

/// A loss term before its division: numerator / max(denominator, 1).
struct LossRatio {
  torch::Tensor numerator;    ///< scalar, carries the gradient
  torch::Tensor denominator;  ///< scalar count, no gradient
  /// numerator / max(denominator, 1).
  torch::Tensor value() const;
};

/// sums: [N] loss summed over the counted pixels of each row; counts: [N] counted pixels per
/// row; sample: [N] int64 sample of each row (< batch_size).
LossRatio reduce_rows(const torch::Tensor& sums, const torch::Tensor& counts,
                      const torch::Tensor& sample, int64_t batch_size, Reduction reduction);

}  // namespace c2fmae::losses
