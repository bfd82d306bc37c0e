// Patch embedding: a p x p convolution with stride p (timm's and MAE's PatchEmbed). It is
// the ViT backbone's patch_embed and so the RGB input adapter of C2FMAE.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

struct PatchEmbedOptions {
  PatchEmbedOptions(int64_t patch_size, int64_t dim) : patch_size_(patch_size), dim_(dim) {}
  /// Patch side in pixels.
  TORCH_ARG(int64_t, patch_size);
  /// Token width.
  TORCH_ARG(int64_t, dim);
  /// Image channels.
  TORCH_ARG(int64_t, in_chans) = 3;
};

class PatchEmbedImpl : public torch::nn::Cloneable<PatchEmbedImpl> {
 public:
  explicit PatchEmbedImpl(const PatchEmbedOptions& options);
  void reset() override;
  /// rgb: [B, C, H, W] -> tokens [B, L, D], L = (H/p) * (W/p), row-major.
  torch::Tensor forward(const torch::Tensor& rgb);

  PatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

}  // namespace c2fmae::models
