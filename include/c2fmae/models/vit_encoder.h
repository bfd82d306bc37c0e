// The shared ViT encoder: pre-norm blocks and a final LayerNorm over the visible tokens.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

struct VitEncoderOptions {
  VitEncoderOptions(int64_t dim, int64_t depth, int64_t num_heads)
      : dim_(dim), depth_(depth), num_heads_(num_heads) {}
  /// Token width.
  TORCH_ARG(int64_t, dim);
  /// Number of blocks.
  TORCH_ARG(int64_t, depth);
  /// Attention heads.
  TORCH_ARG(int64_t, num_heads);
  /// MLP hidden width / dim.
  TORCH_ARG(double, mlp_ratio) = 4.0;
};

class VitEncoderImpl : public torch::nn::Cloneable<VitEncoderImpl> {
 public:
  explicit VitEncoderImpl(const VitEncoderOptions& options);
  void reset() override;
  /// x: [B, N, D] (global token first, then visible tokens) -> [B, N, D], normalised.
  torch::Tensor forward(const torch::Tensor& x);

  VitEncoderOptions options;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(VitEncoder);

}  // namespace c2fmae::models
