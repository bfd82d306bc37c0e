#include "c2fmae/models/layer_norm.h"

#include <torch/torch.h>

#include "c2fmae/ops/layer_norm.h"

namespace c2fmae::models {

LayerNormImpl::LayerNormImpl(const LayerNormOptions& options_) : options(options_) { reset(); }

void LayerNormImpl::reset() {
  TORCH_CHECK(options.dim() > 0, "LayerNorm: dim must be positive, but got ", options.dim());
  weight = register_parameter("weight", torch::empty({options.dim()}));
  bias = register_parameter("bias", torch::empty({options.dim()}));
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  weight.fill_(1.0);
  bias.zero_();
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  return ops::layer_norm(x, weight, bias, options.eps());
}

}  // namespace c2fmae::models
