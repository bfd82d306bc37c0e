#include "c2fmae/models/attention.h"

#include <torch/torch.h>

#include <cmath>
#include <utility>

namespace c2fmae::models {

AttentionImpl::AttentionImpl(const AttentionOptions& options_) : options(options_) { reset(); }

void AttentionImpl::reset() {
  TORCH_CHECK(options.dim() % options.num_heads() == 0, "Attention: dim ", options.dim(),
              " must be a multiple of num_heads ", options.num_heads());
  qkv = register_module(
      "qkv",
      torch::nn::Linear(
          torch::nn::LinearOptions(options.dim(), 3 * options.dim()).bias(options.qkv_bias())));
  proj = register_module("proj", torch::nn::Linear(options.dim(), options.dim()));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2), h = options.num_heads();
  // at::linear folds the bias into the GEMM (torch::nn::Linear's C++ forward does not).
  auto qkv_out = at::linear(x, qkv->weight, qkv->bias)
                     .view({b, n, 3, h, d / h})
                     .permute({2, 0, 3, 1, 4});  // [3, B, h, N, d/h]
  auto parts = qkv_out.unbind(0);
  auto out = at::scaled_dot_product_attention(parts[0], parts[1], parts[2]);  // [B, h, N, d/h]
  return at::linear(out.transpose(1, 2).reshape({b, n, d}), proj->weight, proj->bias);
}

std::pair<torch::Tensor, torch::Tensor> AttentionImpl::forward_with_weights(
    const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2), h = options.num_heads();
  auto qkv_out = at::linear(x, qkv->weight, qkv->bias)
                     .view({b, n, 3, h, d / h})
                     .permute({2, 0, 3, 1, 4});  // [3, B, h, N, d/h]
  auto parts = qkv_out.unbind(0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d / h));  // SDPA's default scale
  auto weights = at::softmax(at::matmul(parts[0], parts[1].transpose(-2, -1)) * scale, -1,
                             torch::kFloat);                            // [B, h, N, N]
  auto out = at::matmul(weights.to(parts[2].scalar_type()), parts[2]);  // [B, h, N, d/h]
  return {at::linear(out.transpose(1, 2).reshape({b, n, d}), proj->weight, proj->bias), weights};
}

}  // namespace c2fmae::models
