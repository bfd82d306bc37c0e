#include "c2fmae/models/mlp.h"

#include <torch/torch.h>

namespace c2fmae::models {

MlpImpl::MlpImpl(const MlpOptions& options_) : options(options_) { reset(); }

void MlpImpl::reset() {
  fc1 = register_module("fc1", torch::nn::Linear(options.dim(), options.hidden()));
  fc2 = register_module("fc2", torch::nn::Linear(options.hidden(), options.dim()));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return at::linear(at::gelu(at::linear(x, fc1->weight, fc1->bias)), fc2->weight, fc2->bias);
}

}  // namespace c2fmae::models
