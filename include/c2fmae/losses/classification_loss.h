// Classification losses and accuracy for fine-tuning, as MAE wires them (main_finetune.py,
// engine_finetune.py): timm's SoftTargetCrossEntropy when mixup / cutmix is on (the targets
// carry the smoothing, data/mixup.h), LabelSmoothingCrossEntropy when only smoothing > 0, plain
// cross-entropy otherwise (smoothing 0); top-1 / top-5 counts as timm.utils.accuracy
// (timm/loss/cross_entropy.py, timm/utils/metrics.py). Losses are computed in float32.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace c2fmae::losses {

/// timm SoftTargetCrossEntropy: the batch mean of sum_c(-target * log_softmax(logits)).
/// logits: [B, C] (any floating dtype), target: [B, C] (rows sum to 1) -> scalar float32.
torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target);

/// timm LabelSmoothingCrossEntropy: the batch mean of (1 - s) * nll + s * mean_c(-log_softmax);
/// s = 0 is plain cross-entropy. logits: [B, C], labels: [B] int64 in [0, C) -> scalar float32.
torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits,
                                            const torch::Tensor& labels, double smoothing);

/// For each k in ks, the number of rows whose label is among the row's top-k logits (timm's
/// accuracy as counts, k clamped to C). logits: [B, C], labels: [B] int64; labels < 0 are
/// padding and never counted -> [len(ks)] int64 on logits' device (no host sync).
torch::Tensor topk_correct(const torch::Tensor& logits, const torch::Tensor& labels,
                           const std::vector<int64_t>& ks);

}  // namespace c2fmae::losses
