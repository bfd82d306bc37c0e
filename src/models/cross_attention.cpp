#include "c2fmae/models/cross_attention.h"

#include <torch/torch.h>

namespace c2fmae::models {

CrossAttentionImpl::CrossAttentionImpl(const CrossAttentionOptions& options_) : options(options_) {
  reset();
}

void CrossAttentionImpl::reset() {
  TORCH_CHECK(options.dim() % options.num_heads() == 0, "CrossAttention: dim ", options.dim(),
              " must be a multiple of num_heads ", options.num_heads());
  q = register_module("q", torch::nn::Linear(options.dim(), options.dim()));
  kv = register_module("kv", torch::nn::Linear(options.dim(), 2 * options.dim()));
  proj = register_module("proj", torch::nn::Linear(options.dim(), options.dim()));
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2), s = context.size(1);
  const int64_t h = options.num_heads();
  auto query = at::linear(x, q->weight, q->bias).view({b, n, h, d / h}).transpose(1, 2);
  auto kv_parts = at::linear(context, kv->weight, kv->bias)
                      .view({b, s, 2, h, d / h})
                      .permute({2, 0, 3, 1, 4})
                      .unbind(0);  // 2 x [B, h, S, d/h]
  auto out = at::scaled_dot_product_attention(query, kv_parts[0], kv_parts[1]);
  return at::linear(out.transpose(1, 2).reshape({b, n, d}), proj->weight, proj->bias);
}

}  // namespace c2fmae::models
