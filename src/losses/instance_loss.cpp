#include "c2fmae/losses/instance_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"
#include "c2fmae/core/patchify.h"

namespace c2fmae::losses {
namespace {

/// Euclidean norm over the last axis with a finite gradient at 0.
torch::Tensor safe_norm(const torch::Tensor& x) { return (x.pow(2).sum(-1) + 1e-12).sqrt(); }

}  // namespace

LossRatio instance_loss(const torch::Tensor& embeddings, const torch::Tensor& ids,
                        const torch::Tensor& rows, int64_t embed_dim,
                        const InstanceLossOptions& options) {
  const int64_t n = embeddings.size(0), e = embed_dim;
  const int64_t qq = embeddings.size(1) / e;
  const auto q = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(qq))));
  TORCH_CHECK(embeddings.dim() == 2 && q * q * e == embeddings.size(1) && rows.size(0) == n,
              "instance_loss: expected [N, q*q*", e, "] for ", rows.size(0), " rows, but got ",
              embeddings.sizes());
  auto patches = patchify_map(ids, q);  // [B, L, q*q]
  const int64_t b = patches.size(0), l = patches.size(1);
  const int64_t k1 = options.max_instances + 1;  // clusters per sample: ids 0..K
  auto pix_ids = patches.reshape({b * l, qq}).index_select(0, rows).to(torch::kLong).flatten();
  auto emb = embeddings.to(torch::kFloat).reshape({n * qq, e});  // [P, E]
  auto sample = rows.div(l, "floor").repeat_interleave(qq);      // [P]
  auto counted = pix_ids <= options.max_instances;               // drops kInstanceOverflow
  if (!options.background_cluster) counted = counted & (pix_ids != kNoInstance);
  auto w = counted.to(torch::kFloat);
  auto cluster = sample * k1 + pix_ids.clamp_max(options.max_instances);  // [P] in [0, B * K1)

  auto counts = torch::zeros({b * k1}, w.options()).index_add(0, cluster, w);
  auto means = torch::zeros({b * k1, e}, w.options()).index_add(0, cluster, emb * w.unsqueeze(1)) /
               counts.clamp_min(1.0).unsqueeze(1);  // [B * K1, E]
  auto present = (counts > 0).to(torch::kFloat).view({b, k1});
  auto clusters = present.sum(1);  // [B]

  // Pull: hinge on the distance of each pixel to its cluster mean, averaged per cluster.
  auto pull_pix =
      (safe_norm(emb - means.index_select(0, cluster)) - options.delta_pull).clamp_min(0.0).pow(2) *
      w;
  auto pull_cluster =
      torch::zeros({b * k1}, w.options()).index_add(0, cluster, pull_pix) / counts.clamp_min(1.0);
  auto pull = (pull_cluster.view({b, k1}) * present).sum(1) / clusters.clamp_min(1.0);
  auto reg = (safe_norm(means).view({b, k1}) * present).sum(1) / clusters.clamp_min(1.0);

  // Push: hinge on pairwise distances of the cluster means within a sample: [B, K1, K1].
  auto table = means.view({b, k1, e});
  auto dist = safe_norm(table.unsqueeze(2) - table.unsqueeze(1));
  auto pair = present.unsqueeze(2) * present.unsqueeze(1) *
              (1.0 - torch::eye(k1, w.options())).unsqueeze(0);
  auto hinge = (2.0 * options.delta_push - dist).clamp_min(0.0).pow(2) * pair;
  auto push = hinge.sum({1, 2}) / pair.sum({1, 2}).clamp_min(1.0);

  auto has = (clusters > 0).to(torch::kFloat);
  auto total = (pull + push + options.weight_reg * reg) * has;
  return {total.sum(), has.sum().detach()};
}

}  // namespace c2fmae::losses
