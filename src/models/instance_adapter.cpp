#include "c2fmae/models/instance_adapter.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"

namespace c2fmae::models {

torch::Tensor instance_boundaries(const torch::Tensor& ids, int64_t cell) {
  using torch::indexing::Slice;
  TORCH_CHECK(ids.dim() == 3 && cell >= 1,
              "instance_boundaries: expected [B, H, W] and a cell "
              "of at least 1 pixel, but got ",
              ids.sizes(), " and ", cell);
  auto edge = torch::zeros(ids.sizes(), ids.options().dtype(torch::kBool));
  // Pairs (i, i + 1) inside one cell: i + 1 is not the first pixel of a cell.
  auto inside = [&](int64_t n) {
    return (torch::arange(1, n, ids.options().dtype(torch::kLong)).remainder(cell) != 0);
  };
  auto dy =
      (ids.index({Slice(), Slice(1), Slice()}) != ids.index({Slice(), Slice(0, -1), Slice()})) &
      inside(ids.size(1)).view({1, -1, 1});
  auto dx =
      (ids.index({Slice(), Slice(), Slice(1)}) != ids.index({Slice(), Slice(), Slice(0, -1)})) &
      inside(ids.size(2)).view({1, 1, -1});
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
  TORCH_CHECK(patch_fits_label_maps(options.patch_size()),
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

torch::Tensor InstanceAdapterImpl::forward(const torch::Tensor& instance,
                                           const torch::Tensor& slot_order) {
  TORCH_CHECK(instance.dim() == 3, "InstanceAdapter: expected [B, H, W], but got ",
              instance.sizes());
  const auto canon = instance.to(torch::kLong);  // [B, h, w]: 0 = none, 1..K
  const auto cell = options.patch_size() / kLabelDownsample;
  const int64_t b = canon.size(0), k = options.num_slots();
  auto slot_of = (canon - 1).clamp_min(0).remainder(k);  // [B, h, w] in 0..K-1
  if (is_training()) {
    // A fresh slot permutation per sample: slot embeddings carry identity, not position.
    auto perm =
        slot_order.defined()
            ? slot_order.to(canon.device(), torch::kLong)
            : std::get<1>(torch::rand({b, k}, canon.options().dtype(torch::kFloat)).sort(1));
    TORCH_CHECK(perm.dim() == 2 && perm.size(0) == b && perm.size(1) == k,
                "InstanceAdapter: expected a slot order [", b, ", ", k, "], but got ",
                perm.sizes());
    slot_of = perm.gather(1, slot_of.flatten(1)).view_as(slot_of);
  }
  auto slots = torch::where((canon == kNoInstance) | (canon == kInstanceOverflow), 0, slot_of + 1);
  auto emb = slot_embed(slots).permute({0, 3, 1, 2});  // [B, E, h, w]
  auto x = torch::cat({emb, instance_boundaries(canon, cell).to(emb.dtype())}, 1);
  return proj(x).flatten(2).transpose(1, 2);
}

}  // namespace c2fmae::models
