// Permutation-invariant instance loss: the discriminative loss of De Brabandere et al.
// ("Semantic Instance Segmentation with a Discriminative Loss Function", 2017) on per-pixel
// embeddings at 1/4 resolution, over the pixels of masked tokens only. Each (sample, id)
// pair is a cluster (kNoInstance included, as the background cluster). It depends only on
// which pixels share an id, never on the id values, so relabelling leaves it unchanged.
#pragma once
#include <torch/types.h>

namespace c2fmae::losses {

struct InstanceLossOptions {
  /// Pull margin delta_v: pixels closer than this to their cluster mean cost nothing.
  double delta_pull = 0.5;
  /// Push margin delta_d: cluster means further apart than 2 * delta_d cost nothing.
  double delta_push = 1.5;
  /// Weight of the mean-norm regulariser.
  double weight_reg = 0.001;
};

/// embeddings: [B, L, q*q*E] (pixel-major, then channel); ids: [B, h, w] int64 in
/// [0, kInstanceIdLimit) at 1/4 resolution; masked: [B, L] bool -> scalar (pull + push + weight_reg
/// * reg, averaged over samples that have masked pixels).
torch::Tensor instance_loss(const torch::Tensor& embeddings, const torch::Tensor& ids,
                            const torch::Tensor& masked, int64_t embed_dim,
                            const InstanceLossOptions& options = {});

}  // namespace c2fmae::losses
