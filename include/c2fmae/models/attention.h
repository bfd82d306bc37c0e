// Multi-head self-attention (timm's Attention: packed qkv with bias, output projection).
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <utility>

namespace c2fmae::models {

struct AttentionOptions {
  AttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  /// Token width; a multiple of num_heads.
  TORCH_ARG(int64_t, dim);
  /// Number of heads.
  TORCH_ARG(int64_t, num_heads);
  /// Bias on the qkv projection (ViT / MAE: true).
  TORCH_ARG(bool, qkv_bias) = true;
};

class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  explicit AttentionImpl(const AttentionOptions& options);
  void reset() override;
  /// x: [B, N, D] -> [B, N, D]. Attention runs through at::scaled_dot_product_attention,
  /// which picks the flash / memory-efficient kernels on GPU.
  torch::Tensor forward(const torch::Tensor& x);
  /// The same output through an explicit softmax(q k^T / sqrt(d/h)) v, returning also the
  /// attention weights [B, h, N, N] (rows sum to 1), which SDPA never materialises. For
  /// the `evolved` mask generator's patch affinity only (train/ema_encoder.h): it costs
  /// the N x N matrix per head.
  std::pair<torch::Tensor, torch::Tensor> forward_with_weights(const torch::Tensor& x);

  AttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace c2fmae::models
