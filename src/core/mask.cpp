#include "c2fmae/core/mask.h"

#include <torch/torch.h>

namespace c2fmae {

void check_mask(const torch::Tensor& mask, int64_t num_modalities, int64_t num_patches,
                int64_t num_visible) {
  TORCH_CHECK(mask.defined(), "mask: expected a tensor, but got an undefined one");
  TORCH_CHECK(mask.scalar_type() == torch::kBool, "mask: expected dtype bool, but got ",
              mask.scalar_type());
  TORCH_CHECK(mask.dim() == 3 && mask.size(1) == num_modalities && mask.size(2) == num_patches,
              "mask: expected shape [B, ", num_modalities, ", ", num_patches, "], but got ",
              mask.sizes());
  auto counts = visible_counts(mask);
  TORCH_CHECK(counts.eq(num_visible).all().item<bool>(), "mask: expected ", num_visible,
              " visible tokens per sample, but got counts ", counts.min().item<int64_t>(), "..",
              counts.max().item<int64_t>());
}

torch::Tensor visible_counts(const torch::Tensor& mask) {
  return mask.logical_not().flatten(1).sum(1);
}

torch::Tensor visible_token_indices(const torch::Tensor& mask_any) {
  TORCH_CHECK(mask_any.dim() == 3, "mask: expected [B, M, L], but got ", mask_any.sizes());
  const auto mask = mask_any.cpu();
  auto flat = mask.flatten(1);  // [B, M*L]
  auto counts = visible_counts(mask);
  const int64_t v = counts.numel() ? counts[0].item<int64_t>() : 0;
  TORCH_CHECK(counts.eq(v).all().item<bool>(),
              "mask: every sample needs the same number of visible tokens");
  // Stable sort puts visible (false) first, each group in ascending token order.
  // (std::optional<bool> picks the stable overload; a plain `true` would bind to dim.)
  auto order = std::get<1>(
      flat.to(torch::kUInt8).sort(std::optional<bool>(true), /*dim=*/1, /*descending=*/false));
  return order.narrow(1, 0, v);
}

torch::Tensor masked_rows(const torch::Tensor& mask, int64_t modality) {
  TORCH_CHECK(mask.dim() == 3 && modality >= 0 && modality < mask.size(1),
              "masked_rows: expected [B, M, L] with modality < M, but got ", mask.sizes(),
              " and modality ", modality);
  return mask.cpu().select(1, modality).flatten().nonzero().flatten();
}

void attach_token_indices(Batch& batch) {
  TORCH_CHECK(batch.mask.defined(), "attach_token_indices: the batch has no mask");
  batch.visible = visible_token_indices(batch.mask);
  batch.masked.clear();
  for (int64_t m = 0; m < batch.mask.size(1); ++m) {
    batch.masked.push_back(masked_rows(batch.mask, m));
  }
}

}  // namespace c2fmae
