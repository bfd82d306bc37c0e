// RGB input adapter: a p x p patch embedding (MAE's PatchEmbed).
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

struct RgbAdapterOptions {
  RgbAdapterOptions(int64_t patch_size, int64_t dim) : patch_size_(patch_size), dim_(dim) {}
  /// Patch side in pixels.
  TORCH_ARG(int64_t, patch_size);
  /// Token width.
  TORCH_ARG(int64_t, dim);
};

class RgbAdapterImpl : public torch::nn::Cloneable<RgbAdapterImpl> {
 public:
  explicit RgbAdapterImpl(const RgbAdapterOptions& options);
  void reset() override;
  /// rgb: [B, 3, H, W] -> tokens [B, L, D], L = (H/p) * (W/p), row-major.
  torch::Tensor forward(const torch::Tensor& rgb);

  RgbAdapterOptions options;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(RgbAdapter);

}  // namespace c2fmae::models
