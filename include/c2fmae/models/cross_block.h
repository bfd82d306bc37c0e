// Cross-attention block of a decoder stage (MultiMAE's SpatialOutputAdapter):
// y = x + cross_attn(norm1(x), norm_context(context)), then y + mlp(norm2(y)). MultiMAE has no
// residual around the cross-attention (y = cross_attn(...)); `residual = false` gives that.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "c2fmae/models/block.h"
#include "c2fmae/models/cross_attention.h"
#include "c2fmae/models/layer_norm.h"
#include "c2fmae/models/mlp.h"

namespace c2fmae::models {

class CrossBlockImpl : public torch::nn::Cloneable<CrossBlockImpl> {
 public:
  explicit CrossBlockImpl(const BlockOptions& options, bool residual = true);
  void reset() override;
  /// x: [B, N, D], context: [B, S, D] -> [B, N, D].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

  BlockOptions options;
  bool residual;
  LayerNorm norm1{nullptr};
  LayerNorm norm_context{nullptr};
  CrossAttention cross_attn{nullptr};
  LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(CrossBlock);

}  // namespace c2fmae::models
