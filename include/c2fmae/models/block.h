// Pre-norm transformer block (ViT / timm Block): x + attn(norm1(x)), then x + mlp(norm2(x)).
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "c2fmae/models/attention.h"
#include "c2fmae/models/mlp.h"

namespace c2fmae::models {

/// LayerNorm epsilon of every norm in the model (MAE, timm ViT: 1e-6).
constexpr double kLayerNormEps = 1e-6;

struct BlockOptions {
  BlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  /// Token width.
  TORCH_ARG(int64_t, dim);
  /// Attention heads.
  TORCH_ARG(int64_t, num_heads);
  /// MLP hidden width / dim.
  TORCH_ARG(double, mlp_ratio) = 4.0;
};

class BlockImpl : public torch::nn::Cloneable<BlockImpl> {
 public:
  explicit BlockImpl(const BlockOptions& options);
  void reset() override;
  /// x: [B, N, D] -> [B, N, D].
  torch::Tensor forward(const torch::Tensor& x);

  BlockOptions options;
  torch::nn::LayerNorm norm1{nullptr};
  Attention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

/// A LayerNorm over the last dimension with kLayerNormEps.
torch::nn::LayerNorm make_layer_norm(int64_t dim);

}  // namespace c2fmae::models
