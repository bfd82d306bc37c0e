// LayerNorm module over the last dimension (weight, bias as torch.nn.LayerNorm and timm's
// norms), computed by ops::layer_norm so that a fused kernel serves every norm of the model.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

/// LayerNorm epsilon of every norm in the model (MAE, timm ViT: 1e-6).
constexpr double kLayerNormEps = 1e-6;

struct LayerNormOptions {
  /* implicit */ LayerNormOptions(int64_t dim) : dim_(dim) {}
  /// Width of the normalised last dimension.
  TORCH_ARG(int64_t, dim);
  /// Added to the variance.
  TORCH_ARG(double, eps) = kLayerNormEps;
};

class LayerNormImpl : public torch::nn::Cloneable<LayerNormImpl> {
 public:
  explicit LayerNormImpl(const LayerNormOptions& options);
  /// Unit weight, zero bias.
  void reset() override;
  /// Sets weight to one and bias to zero (also what init_mae_weights does).
  void reset_parameters();
  /// x: [..., D] -> [..., D].
  torch::Tensor forward(const torch::Tensor& x);

  LayerNormOptions options;
  torch::Tensor weight;  ///< [D]
  torch::Tensor bias;    ///< [D]
};
TORCH_MODULE(LayerNorm);

}  // namespace c2fmae::models
