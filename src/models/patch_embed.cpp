#include "c2fmae/models/patch_embed.h"

#include <torch/torch.h>

namespace c2fmae::models {

PatchEmbedImpl::PatchEmbedImpl(const PatchEmbedOptions& options_) : options(options_) { reset(); }

void PatchEmbedImpl::reset() {
  const auto p = options.patch_size();
  proj = register_module(
      "proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_chans(), options.dim(), p).stride(p)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& rgb) {
  TORCH_CHECK(rgb.dim() == 4 && rgb.size(1) == options.in_chans(), "PatchEmbed: expected [B, ",
              options.in_chans(), ", H, W], but got ", rgb.sizes());
  return proj(rgb).flatten(2).transpose(1, 2);
}

}  // namespace c2fmae::models
