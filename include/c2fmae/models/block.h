// Pre-norm transformer block (ViT / timm Block): x + drop_path(attn(norm1(x))), then
// x + drop_path(mlp(norm2(x))). Drop path (stochastic depth, timm's DropPath) is on only in
// training with drop_path > 0 (fine-tuning): each sample's residual branch is zeroed with
// probability drop_path and the kept ones scaled by 1 / (1 - drop_path).
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "c2fmae/models/attention.h"
#include "c2fmae/models/layer_norm.h"
#include "c2fmae/models/mlp.h"

namespace c2fmae::models {

struct BlockOptions {
  BlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  /// Token width.
  TORCH_ARG(int64_t, dim);
  /// Attention heads.
  TORCH_ARG(int64_t, num_heads);
  /// MLP hidden width / dim.
  TORCH_ARG(double, mlp_ratio) = 4.0;
  /// Probability of dropping each residual branch per sample in training (0: off).
  TORCH_ARG(double, drop_path) = 0.0;
};

/// timm's drop_path: x [B, ...] times a per-sample keep mask scaled by 1 / (1 - p), drawn from
/// the default generator of x's device; the identity when !training or p == 0.
torch::Tensor drop_path(const torch::Tensor& x, double p, bool training);

class BlockImpl : public torch::nn::Cloneable<BlockImpl> {
 public:
  explicit BlockImpl(const BlockOptions& options);
  void reset() override;
  /// x: [B, N, D] -> [B, N, D].
  torch::Tensor forward(const torch::Tensor& x);
  /// forward() with the attention weights [B, h, N, N] (AttentionImpl::forward_with_weights).
  std::pair<torch::Tensor, torch::Tensor> forward_with_attention(const torch::Tensor& x);

  BlockOptions options;
  LayerNorm norm1{nullptr};
  Attention attn{nullptr};
  LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

}  // namespace c2fmae::models
