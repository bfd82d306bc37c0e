#include "c2fmae/models/semantic_adapter.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"

namespace c2fmae::models {

SemanticAdapterImpl::SemanticAdapterImpl(const SemanticAdapterOptions& options_)
    : options(options_) {
  reset();
}

void SemanticAdapterImpl::reset() {
  TORCH_CHECK(patch_fits_label_maps(options.patch_size()),
              "SemanticAdapter: patch size must be a multiple of ", kLabelDownsample,
              " (the label resolution is 1/", kLabelDownsample, "), but got ",
              options.patch_size());
  class_embed = register_module(
      "class_embed", torch::nn::Embedding(options.num_classes() + 1, options.class_dim()));
  const auto k = options.patch_size() / kLabelDownsample;
  proj = register_module(
      "proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(options.class_dim(), options.dim(), k).stride(k)));
}

torch::Tensor SemanticAdapterImpl::forward(const torch::Tensor& semantic) {
  TORCH_CHECK(semantic.dim() == 3, "SemanticAdapter: expected [B, H, W], but got ",
              semantic.sizes());
  const auto quarter = semantic.to(torch::kLong);  // [B, H/4, W/4]
  auto classes = quarter.masked_fill(quarter == kIgnoreClass, options.num_classes());
  auto emb = class_embed(classes).permute({0, 3, 1, 2});  // [B, E, H/4, W/4]
  return proj(emb).flatten(2).transpose(1, 2);
}

}  // namespace c2fmae::models
