#include "c2fmae/models/block.h"

#include <torch/torch.h>

namespace c2fmae::models {

torch::nn::LayerNorm make_layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kLayerNormEps));
}

BlockImpl::BlockImpl(const BlockOptions& options_) : options(options_) { reset(); }

void BlockImpl::reset() {
  norm1 = register_module("norm1", make_layer_norm(options.dim()));
  attn = register_module("attn", Attention(AttentionOptions(options.dim(), options.num_heads())));
  norm2 = register_module("norm2", make_layer_norm(options.dim()));
  const auto hidden = static_cast<int64_t>(options.dim() * options.mlp_ratio());
  mlp = register_module("mlp", Mlp(MlpOptions(options.dim(), hidden)));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  auto y = x + attn(norm1(x));
  return y + mlp(norm2(y));
}

}  // namespace c2fmae::models
