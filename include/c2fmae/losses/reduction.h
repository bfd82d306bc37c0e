// How a loss term averages over the masked tokens of a batch (a config key, loss.reduction):
//
//   pixels   (ours): one mean over every counted pixel of the batch's masked tokens, so a
//                    sample weighs by how many of its tokens are masked;
//   samples  (MultiMAE, multimae/criterion.py): a mean per sample over its masked tokens,
//                    then the mean over the samples that have any (nanmean).
//
// Every reduction here is over fixed-size [B] tensors on the device: no host sync.
#pragma once
#include <torch/types.h>

#include <string>

namespace c2fmae::losses {

enum class Reduction { kPixels, kSamples };

/// "pixels" or "samples"; throws std::invalid_argument otherwise.
Reduction parse_reduction(const std::string& name);

/// sums: [N] loss summed over the counted pixels of each row; counts: [N] counted pixels per
/// row; sample: [N] int64 sample of each row (< batch_size) -> scalar.
torch::Tensor reduce_rows(const torch::Tensor& sums, const torch::Tensor& counts,
                          const torch::Tensor& sample, int64_t batch_size, Reduction reduction);

}  // namespace c2fmae::losses
