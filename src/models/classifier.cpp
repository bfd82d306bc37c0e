#include "c2fmae/models/classifier.h"

#include <torch/torch.h>

#include <cmath>

#include "c2fmae/models/c2fmae_model.h"

namespace c2fmae::models {

void trunc_normal_(torch::Tensor& tensor, double std) {
  torch::NoGradGuard no_grad;
  // PyTorch's trunc_normal_(mean=0, std, a=-2, b=2), which timm and MAE call: inverse-CDF
  // sampling of a normal truncated to [-2, 2] (absolute bounds).
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double lo = cdf(-2.0 / std), hi = cdf(2.0 / std);
  tensor.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0)
      .erfinv_()
      .mul_(std * std::sqrt(2.0))
      .clamp_(-2.0, 2.0);
}

ClassifierImpl::ClassifierImpl(const ClassifierOptions& options_) : options(options_) { reset(); }

void ClassifierImpl::reset() {
  TORCH_CHECK(options.num_classes() >= 1, "Classifier: num_classes must be >= 1, but got ",
              options.num_classes());
  const bool avg = options.global_pool() == config::GlobalPool::kAvg;
  auto vit = options.backbone();
  vit.final_norm(!avg);
  backbone = register_module("backbone", VisionTransformer(vit));
  const int64_t d = vit.embed_dim();
  if (avg) fc_norm = register_module("fc_norm", LayerNorm(d));
  if (options.linear_probe()) {
    head_norm = register_module(
        "head_norm",
        torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(d).affine(false).eps(1e-6)));
  }
  head = register_module("head", torch::nn::Linear(d, options.num_classes()));
  init_mae_weights(*backbone);
  torch::NoGradGuard no_grad;
  trunc_normal_(head->weight, options.head_init_std());
  head->bias.zero_();
}

torch::Tensor ClassifierImpl::forward_features(const torch::Tensor& rgb) {
  auto tokens = backbone->forward_features(rgb);  // [B, 1 + L, D]
  if (fc_norm) return fc_norm(tokens.narrow(1, 1, tokens.size(1) - 1).mean(1));
  return tokens.select(1, 0);
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& rgb) {
  auto x = forward_features(rgb);
  if (head_norm) x = head_norm(x.to(torch::kFloat));
  return head(x);
}

}  // namespace c2fmae::models
