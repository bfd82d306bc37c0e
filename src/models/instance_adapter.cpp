#include "c2fmae/models/instance_adapter.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"
#include "c2fmae/core/patchify.h"

namespace c2fmae::models {

torch::Tensor canonical_instance_ids(const torch::Tensor& ids) {
  TORCH_CHECK(ids.dim() == 3, "canonical_instance_ids: expected [B, H, W], but got ", ids.sizes());
  const int64_t b = ids.size(0), p = ids.size(1) * ids.size(2);
  auto flat = ids.reshape({b, p}).to(torch::kLong);
  const int64_t span = kInstanceIdLimit;  // a constant key space: no device sync
  auto sample = torch::arange(b, flat.options()).unsqueeze(1);
  auto key = (sample * span + flat).flatten();  // unique per (sample, id)
  auto [uniq, inverse, counts] = at::_unique2(key, /*sorted=*/true, /*return_inverse=*/true);
  const int64_t u = uniq.size(0);
  auto pos = torch::arange(p, flat.options()).repeat({b});
  auto first = torch::full({u}, p, flat.options()).scatter_reduce(0, inverse, pos, "amin");
  auto u_sample = uniq.div(span, "floor");
  auto u_id = uniq.remainder(span);
  // Within a sample: background first, then instances by first appearance.
  auto order_key = u_sample * (p + 1) + torch::where(u_id == kNoInstance, 0, first + 1);
  auto rank = torch::empty_like(order_key).scatter_(0, std::get<1>(order_key.sort()),
                                                    torch::arange(u, flat.options()));
  auto per_sample =
      torch::zeros({b}, flat.options()).index_add(0, u_sample, torch::ones_like(u_sample));
  auto start = per_sample.cumsum(0) - per_sample;
  auto has_bg = torch::zeros({b}, flat.options())
                    .index_add(0, u_sample, (u_id == kNoInstance).to(torch::kLong));
  auto canon = rank - start.index_select(0, u_sample) + 1 - has_bg.index_select(0, u_sample);
  canon = torch::where(u_id == kNoInstance, 0, canon);
  return canon.index_select(0, inverse).view(ids.sizes());
}

torch::Tensor instance_boundaries(const torch::Tensor& ids) {
  using torch::indexing::Slice;
  auto edge = torch::zeros(ids.sizes(), ids.options().dtype(torch::kBool));
  auto dy = ids.index({Slice(), Slice(1), Slice()}) != ids.index({Slice(), Slice(0, -1), Slice()});
  auto dx = ids.index({Slice(), Slice(), Slice(1)}) != ids.index({Slice(), Slice(), Slice(0, -1)});
  edge.index({Slice(), Slice(1), Slice()}) |= dy;
  edge.index({Slice(), Slice(0, -1), Slice()}) |= dy;
  edge.index({Slice(), Slice(), Slice(1)}) |= dx;
  edge.index({Slice(), Slice(), Slice(0, -1)}) |= dx;
  return edge.unsqueeze(1).to(torch::kFloat);
}

InstanceAdapterImpl::InstanceAdapterImpl(const InstanceAdapterOptions& options_)
    : options(options_) {
  reset();
}

void InstanceAdapterImpl::reset() {
  TORCH_CHECK(options.patch_size() % kLabelDownsample == 0,
              "InstanceAdapter: patch size must be a multiple of ", kLabelDownsample,
              " (the label resolution is 1/", kLabelDownsample, "), but got ",
              options.patch_size());
  slot_embed = register_module("slot_embed",
                               torch::nn::Embedding(options.num_slots() + 1, options.slot_dim()));
  const auto k = options.patch_size() / kLabelDownsample;
  proj = register_module(
      "proj", torch::nn::Conv2d(
                  torch::nn::Conv2dOptions(options.slot_dim() + 1, options.dim(), k).stride(k)));
}

torch::Tensor InstanceAdapterImpl::forward(const torch::Tensor& instance) {
  TORCH_CHECK(instance.dim() == 3, "InstanceAdapter: expected [B, H, W], but got ",
              instance.sizes());
  auto quarter = downsample_labels(instance, kLabelDownsample);  // [B, h, w]
  auto canon = canonical_instance_ids(quarter);   // 0 = none, 1..n
  const int64_t b = quarter.size(0), k = options.num_slots();
  auto slot_of = (canon - 1).clamp_min(0).remainder(k);  // [B, h, w] in 0..K-1
  if (is_training()) {
    // A fresh slot permutation per sample: slot embeddings carry identity, not position.
    auto perm = std::get<1>(torch::rand({b, k}, quarter.options().dtype(torch::kFloat)).sort(1));
    slot_of = perm.gather(1, slot_of.flatten(1)).view_as(slot_of);
  }
  auto slots = torch::where(canon == 0, 0, slot_of + 1);
  auto emb = slot_embed(slots).permute({0, 3, 1, 2});  // [B, E, h, w]
  auto x = torch::cat({emb, instance_boundaries(quarter).to(emb.dtype())}, 1);
  return proj(x).flatten(2).transpose(1, 2);
}

}  // namespace c2fmae::models
