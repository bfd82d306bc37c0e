// Permutation-invariant instance loss: the discriminative loss of De Brabandere et al.
// ("Semantic Instance Segmentation with a Discriminative Loss Function", 2017) on per-pixel
// embeddings at 1/4 resolution, over the pixels of masked tokens only. Each (sample,
// canonical id) pair is a cluster; the background (kNoInstance) is a cluster or ignored
// (loss.instance_background), kInstanceOverflow pixels are ignored. It depends only on which
// pixels share an id, never on the id values, so relabelling leaves it unchanged.
//
// Ids are canonical (1..K, data/instance_ids.h), so the clusters live in a fixed [B, K + 1]
// table: every reduction is fixed-size, with no unique() and no host sync.
#pragma once
#include <torch/types.h>

#include <cstdint>

#include "c2fmae/losses/reduction.h"

namespace c2fmae::losses {

struct InstanceLossOptions {
  /// Pull margin delta_v: pixels closer than this to their cluster mean cost nothing.
  double delta_pull = 0.5;
  /// Push margin delta_d: cluster means further apart than 2 * delta_d cost nothing.
  double delta_push = 1.5;
  /// Weight of the mean-norm regulariser.
  double weight_reg = 0.001;
  /// Largest canonical id K (model.instance_slots); larger ids are ignored.
  int64_t max_instances = 64;
  /// Whether the background pixels form a cluster (true) or are ignored (false).
  bool background_cluster = false;
};

/// embeddings: [N, q*q*E] (pixel-major, then channel) for rows [N] (b * L + l, the masked
/// tokens); ids: [B, h, w] canonical ids at the label resolution -> the sum over samples of
/// pull + push + weight_reg * reg, over the number of samples that have a cluster.
LossRatio instance_loss(const torch::Tensor& embeddings, const torch::Tensor& ids,
                        const torch::Tensor& rows, int64_t embed_dim,
                        const InstanceLossOptions& options = {});

}  // namespace c2fmae::losses
