// The image classifier fine-tuning trains (MAE's models_vit.VisionTransformer): the timm-shaped
// backbone on all tokens, a pooling, and a linear head.
//
//   global_pool avg (MAE fine-tuning): the mean of the patch tokens, then fc_norm; the
//     backbone has no final norm (timm: norm is Identity when fc_norm is used).
//   global_pool token (MAE linear probing): the class token after the backbone's final norm.
//   linear_probe: a BatchNorm without affine parameters (eps 1e-6) before the head, as MAE's
//     main_linprobe.py (its running statistics are the only state it keeps).
//
// Parameter names are timm's under "backbone." (backbone.blocks.0.attn.qkv.weight, ...), then
// fc_norm.{weight,bias}, head_norm.{running_mean,running_var,num_batches_tracked} and
// head.{weight,bias}: a pre-training checkpoint's backbone.* loads as is.
//
//   models::Classifier model(ClassifierOptions(vit_options, 1000));
//   auto logits = model(rgb);                      // rgb [B, 3, H, W] -> [B, 1000]
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "c2fmae/config/sections.h"
#include "c2fmae/models/layer_norm.h"
#include "c2fmae/models/vision_transformer.h"

namespace c2fmae::models {

struct ClassifierOptions {
  ClassifierOptions(VisionTransformerOptions backbone, int64_t num_classes)
      : backbone_(std::move(backbone)), num_classes_(num_classes) {}
  /// The encoder (its final_norm is set from global_pool).
  TORCH_ARG(VisionTransformerOptions, backbone);
  /// Classes the head predicts.
  TORCH_ARG(int64_t, num_classes);
  /// "avg" (mean of the patch tokens + fc_norm) or "token" (the class token).
  TORCH_ARG(config::GlobalPool, global_pool) = config::GlobalPool::kAvg;
  /// BatchNorm without affine before the head (MAE linear probing).
  TORCH_ARG(bool, linear_probe) = false;
  /// Standard deviation of the head weight's truncated normal init (MAE: 2e-5 fine-tuning,
  /// 0.01 linear probing); its bias starts at 0.
  TORCH_ARG(double, head_init_std) = 2e-5;
};

class ClassifierImpl : public torch::nn::Cloneable<ClassifierImpl> {
 public:
  explicit ClassifierImpl(const ClassifierOptions& options);
  /// Backbone and fc_norm as init_mae_weights leaves them (xavier, sin-cos positions), the
  /// head as options.head_init_std says.
  void reset() override;
  /// rgb: [B, 3, H, W] -> the pooled, normalised features [B, D] (timm's forward_head with
  /// pre_logits=True).
  torch::Tensor forward_features(const torch::Tensor& rgb);
  /// rgb: [B, 3, H, W] -> logits [B, num_classes].
  torch::Tensor forward(const torch::Tensor& rgb);

  ClassifierOptions options;
  VisionTransformer backbone{nullptr};
  LayerNorm fc_norm{nullptr};                 ///< global_pool avg only
  torch::nn::BatchNorm1d head_norm{nullptr};  ///< linear_probe only
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Classifier);

/// The truncated normal init timm and MAE use (trunc_normal_ with bounds at +-2 absolute,
/// which for small std is a plain normal cut at 2 / std standard deviations).
void trunc_normal_(torch::Tensor& tensor, double std);

}  // namespace c2fmae::models
