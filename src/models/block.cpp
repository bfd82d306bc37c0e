#include "c2fmae/models/block.h"

#include <torch/torch.h>

namespace c2fmae::models {

torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  TORCH_CHECK(p < 1.0, "drop_path: probability must be below 1, but got ", p);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  const double keep = 1.0 - p;
  return x * torch::empty(shape, x.options()).bernoulli_(keep).div_(keep);
}

BlockImpl::BlockImpl(const BlockOptions& options_) : options(options_) { reset(); }

void BlockImpl::reset() {
  norm1 = register_module("norm1", LayerNorm(options.dim()));
  attn = register_module("attn", Attention(AttentionOptions(options.dim(), options.num_heads())));
  norm2 = register_module("norm2", LayerNorm(options.dim()));
  const auto hidden = static_cast<int64_t>(options.dim() * options.mlp_ratio());
  mlp = register_module("mlp", Mlp(MlpOptions(options.dim(), hidden)));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  const double p = options.drop_path();
  auto y = x + drop_path(attn(norm1(x)), p, is_training());
  return y + drop_path(mlp(norm2(y)), p, is_training());
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::forward_with_attention(const torch::Tensor& x) {
  const double p = options.drop_path();
  auto [a, weights] = attn->forward_with_weights(norm1(x));
  auto y = x + drop_path(a, p, is_training());
  return {y + drop_path(mlp(norm2(y)), p, is_training()), weights};
}

}  // namespace c2fmae::models
