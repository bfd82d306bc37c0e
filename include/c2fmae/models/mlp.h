// Transformer MLP: Linear -> GELU (exact, as timm's nn.GELU) -> Linear.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

struct MlpOptions {
  MlpOptions(int64_t dim, int64_t hidden) : dim_(dim), hidden_(hidden) {}
  /// Input and output width.
  TORCH_ARG(int64_t, dim);
  /// Hidden width (ViT: 4 * dim).
  TORCH_ARG(int64_t, hidden);
};

class MlpImpl : public torch::nn::Cloneable<MlpImpl> {
 public:
  explicit MlpImpl(const MlpOptions& options);
  void reset() override;
  /// x: [..., D] -> [..., D].
  torch::Tensor forward(const torch::Tensor& x);

  MlpOptions options;
  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace c2fmae::models
