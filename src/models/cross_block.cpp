#include "c2fmae/models/cross_block.h"

#include <torch/torch.h>

namespace c2fmae::models {

CrossBlockImpl::CrossBlockImpl(const BlockOptions& options_, bool residual_)
    : options(options_), residual(residual_) {
  reset();
}

void CrossBlockImpl::reset() {
  norm1 = register_module("norm1", LayerNorm(options.dim()));
  norm_context = register_module("norm_context", LayerNorm(options.dim()));
  cross_attn = register_module(
      "cross_attn", CrossAttention(CrossAttentionOptions(options.dim(), options.num_heads())));
  norm2 = register_module("norm2", LayerNorm(options.dim()));
  const auto hidden = static_cast<int64_t>(options.dim() * options.mlp_ratio());
  mlp = register_module("mlp", Mlp(MlpOptions(options.dim(), hidden)));
}

torch::Tensor CrossBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  auto attended = cross_attn(norm1(x), norm_context(context));
  auto y = residual ? x + attended : attended;
  return y + mlp(norm2(y));
}

}  // namespace c2fmae::models
