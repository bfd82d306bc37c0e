// Mixup / CutMix with label smoothing for fine-tuning, as MAE fine-tunes (main_finetune.py:
// timm's Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode='batch',
// label_smoothing=0.1)). Follows timm/data/mixup.py (_params_per_batch, _mix_batch,
// rand_bbox, cutmix_bbox_and_lam, mixup_target) formula for formula, with our fixed-algorithm
// draws (core/random.h) in place of numpy's: Beta(a, a) = G1 / (G1 + G2), G ~ Gamma(a).
// Only timm's 'batch' mode and alpha-sized boxes (cutmix_minmax = None) are provided.
#pragma once
#include <torch/types.h>

#include <cstdint>

namespace c2fmae::data {

struct MixupOptions {
  double mixup_alpha = 0.8;      ///< Beta(a, a) of the mixup lambda; mixup is on if > 0
  double cutmix_alpha = 1.0;     ///< Beta(a, a) of the cutmix lambda; cutmix is on if > 0
  double prob = 1.0;             ///< probability that a batch is mixed at all
  double switch_prob = 0.5;      ///< probability of cutmix rather than mixup when both are on
  double label_smoothing = 0.1;  ///< smoothing of the (mixed) one-hot targets
  int64_t num_classes = 1000;
  bool correct_lam = true;  ///< cutmix: lambda from the box as clipped by the image borders
  /// Whether mixing is on at all (timm's mixup_active: mixup_alpha > 0 or cutmix_alpha > 0).
  bool active() const;
};

/// What one batch's mixing drew (for logs and tests). lam = 1 when the batch was not mixed;
/// the box [y0, y1) x [x0, x1) is set for cutmix only.
struct MixupDraw {
  double lam = 1.0;
  bool cutmix = false;
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
};

/// timm's Mixup in 'batch' mode. rgb: [B, C, H, W] floating, mixed in place (B even);
/// labels: [B] int64 in [0, num_classes) -> soft targets [B, num_classes] float32 on labels'
/// device (rows sum to 1). Sample i is mixed with sample B-1-i: mixup blends
/// lam * x + (1 - lam) * x.flip(0); cutmix pastes the flipped batch's box into every image.
/// Drawn from `seed` alone. When !active(), only smoothing is applied (lam = 1).
torch::Tensor mix_batch(torch::Tensor& rgb, const torch::Tensor& labels,
                        const MixupOptions& options, uint64_t seed, MixupDraw* draw = nullptr);

/// timm's mixup_target (one_hot with smoothing): off = smoothing / C, on = 1 - smoothing + off;
/// lam * y(labels) + (1 - lam) * y(labels.flip(0)). labels: [B] int64 -> [B, C] float32.
torch::Tensor mixup_target(const torch::Tensor& labels, int64_t num_classes, double lam,
                           double smoothing);

}  // namespace c2fmae::data
