#include "c2fmae/ops/layer_norm.h"

#include <ATen/ATen.h>

namespace c2fmae::ops {

torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, double eps) {
  TORCH_CHECK(x.dim() >= 1, "layer_norm: expected an input [..., D], but got a scalar");
  return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
}

}  // namespace c2fmae::ops
