#include "c2fmae/losses/instance_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"
#include "c2fmae/core/patchify.h"

namespace c2fmae::losses {
namespace {

/// Euclidean norm over the last axis with a finite gradient at 0.
torch::Tensor safe_norm(const torch::Tensor& x) { return (x.pow(2).sum(-1) + 1e-12).sqrt(); }

}  // namespace

torch::Tensor instance_loss(const torch::Tensor& embeddings, const torch::Tensor& ids,
                            const torch::Tensor& masked, int64_t embed_dim,
                            const InstanceLossOptions& options) {
  const int64_t b = embeddings.size(0), l = embeddings.size(1), e = embed_dim;
  const int64_t qq = embeddings.size(2) / e;
  const auto q = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(qq))));
  TORCH_CHECK(q * q * e == embeddings.size(2), "instance_loss: expected [B, L, q*q*", e,
              "], but got ", embeddings.sizes());
  auto emb = embeddings.to(torch::kFloat).reshape({b, l * qq, e});  // [B, P, E]
  auto pix_ids = patchify_map(ids, q).reshape({b, l * qq});         // [B, P]
  auto pix_masked = masked.unsqueeze(-1).expand({b, l, qq}).reshape({b, l * qq});
  TORCH_CHECK(pix_ids.size(1) == emb.size(1), "instance_loss: ids give ", pix_ids.size(1) / qq,
              " patches, embeddings ", l);

  // Clusters = (sample, id) over masked pixels; visible pixels share the key -1.
  const int64_t span = kInstanceIdLimit;  // a constant key space: no device sync
  auto sample = torch::arange(b, pix_ids.options()).unsqueeze(1);
  auto key = torch::where(pix_masked, sample * span + pix_ids, -1).flatten();
  auto [uniq, inverse, unused] = at::_unique2(key, /*sorted=*/true, /*return_inverse=*/true);
  (void)unused;
  const int64_t u = uniq.size(0);
  auto flat_emb = emb.reshape({b * l * qq, e});
  auto w = pix_masked.flatten().to(torch::kFloat);                        // [N]
  auto counts = torch::zeros({u}, w.options()).index_add(0, inverse, w);  // [U]
  auto means = torch::zeros({u, e}, w.options()).index_add(0, inverse, flat_emb * w.unsqueeze(1)) /
               counts.clamp_min(1.0).unsqueeze(1);  // [U, E]
  auto valid = uniq >= 0;                           // [U]
  auto u_sample = torch::where(valid, uniq.div(span, "floor"), 0);

  // Pull: hinge on the distance of each pixel to its cluster mean, averaged per cluster.
  auto pull_pix = (safe_norm(flat_emb - means.index_select(0, inverse)) - options.delta_pull)
                      .clamp_min(0.0)
                      .pow(2) *
                  w;
  auto pull_cluster =
      torch::zeros({u}, w.options()).index_add(0, inverse, pull_pix) / counts.clamp_min(1.0);
  auto vf = valid.to(torch::kFloat);
  auto clusters = torch::zeros({b}, w.options()).index_add(0, u_sample, vf);  // per sample
  auto per_sample = [&](const torch::Tensor& v) {
    return torch::zeros({b}, w.options()).index_add(0, u_sample, v * vf) / clusters.clamp_min(1.0);
  };
  auto pull = per_sample(pull_cluster);
  auto reg = per_sample(safe_norm(means));

  // Push: hinge on pairwise distances of cluster means within a sample, padded to
  // [B, K, K] with K the most clusters any sample has.
  auto start = clusters.cumsum(0) - clusters;
  auto first_valid = (uniq < 0).sum();  // the -1 cluster, if any, sorts first
  auto rank = (torch::arange(u, uniq.options()) - first_valid -
               start.to(torch::kLong).index_select(0, u_sample))
                  .clamp_min(0);
  const int64_t k = std::max<int64_t>(1, clusters.max().item<int64_t>());
  auto slot = torch::where(valid, u_sample * k + rank, b * k);  // overflow row for key -1
  auto padded = torch::zeros({b * k + 1, e}, w.options()).index_copy(0, slot, means);
  auto present = torch::zeros({b * k + 1}, w.options()).index_copy(0, slot, vf);
  padded = padded.narrow(0, 0, b * k).view({b, k, e});
  present = present.narrow(0, 0, b * k).view({b, k});
  auto dist = safe_norm(padded.unsqueeze(2) - padded.unsqueeze(1));  // [B, K, K]
  auto pair =
      present.unsqueeze(2) * present.unsqueeze(1) * (1.0 - torch::eye(k, w.options())).unsqueeze(0);
  auto hinge = (2.0 * options.delta_push - dist).clamp_min(0.0).pow(2) * pair;
  auto push = hinge.sum({1, 2}) / pair.sum({1, 2}).clamp_min(1.0);

  auto has = (clusters > 0).to(torch::kFloat);
  auto total = (pull + push + options.weight_reg * reg) * has;
  return total.sum() / has.sum().clamp_min(1.0);
}

}  // namespace c2fmae::losses
