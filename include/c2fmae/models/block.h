// Pre-norm transformer block (ViT / timm Block): x + attn(norm1(x)), then x + mlp(norm2(x)).
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
};

class BlockImpl : public torch::nn::Cloneable<BlockImpl> {
 public:
  explicit BlockImpl(const BlockOptions& options);
  void reset() override;
  /// x: [B, N, D] -> [B, N, D].
  torch::Tensor forward(const torch::Tensor& x);

  BlockOptions options;
  LayerNorm norm1{nullptr};
  Attention attn{nullptr};
  LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

}  // namespace c2fmae::models
