#include "c2fmae/models/block.h"

#include <torch/torch.h>

namespace c2fmae::models {

BlockImpl::BlockImpl(const BlockOptions& options_) : options(options_) { reset(); }

void BlockImpl::reset() {
  norm1 = register_module("norm1", LayerNorm(options.dim()));
  attn = register_module("attn", Attention(AttentionOptions(options.dim(), options.num_heads())));
  norm2 = register_module("norm2", LayerNorm(options.dim()));
  const auto hidden = static_cast<int64_t>(options.dim() * options.mlp_ratio());
  mlp = register_module("mlp", Mlp(MlpOptions(options.dim(), hidden)));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  auto y = x + attn(norm1(x));
  return y + mlp(norm2(y));
}

}  // namespace c2fmae::models
