// Multi-head cross-attention of queries over a context (MultiMAE's output adapters).
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

struct CrossAttentionOptions {
  CrossAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  /// Width of queries and context; a multiple of num_heads.
  TORCH_ARG(int64_t, dim);
  /// Number of heads.
  TORCH_ARG(int64_t, num_heads);
};

class CrossAttentionImpl : public torch::nn::Cloneable<CrossAttentionImpl> {
 public:
  explicit CrossAttentionImpl(const CrossAttentionOptions& options);
  void reset() override;
  /// x: [B, N, D], context: [B, S, D] -> [B, N, D].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

  CrossAttentionOptions options;
  torch::nn::Linear q{nullptr};
  torch::nn::Linear kv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(CrossAttention);

}  // namespace c2fmae::models
