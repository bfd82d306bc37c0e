// The ViT backbone, shaped as timm's VisionTransformer so that export is a rename away:
// its parameters and buffers are named as timm's (patch_embed.proj, cls_token, pos_embed,
// blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm), with timm's shapes.
// It has no head (timm: num_classes=0, global_pool=''). As in MAE, pos_embed is the fixed
// 2-D sin-cos embedding with a zero row for the class token, kept as a buffer (not trained).
//
// Pre-training feeds it a subset of tokens: patch_tokens() and class_token() give the
// embedded inputs, the caller selects the visible ones, and forward_blocks() runs the
// blocks and the final norm. Fine-tuning runs forward_features() on all tokens.
//
//   models::VisionTransformer vit(cfg.model);        // encoder_shape(cfg.model), patch, size
//   auto tokens = vit->forward_features(rgb);         // [B, 1 + L, D], class token first
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/ordered_dict.h>

#include <string>

#include "c2fmae/config/sections.h"
#include "c2fmae/models/layer_norm.h"
#include "c2fmae/models/patch_embed.h"

namespace c2fmae::models {

struct VisionTransformerOptions {
  VisionTransformerOptions(int64_t img_size, int64_t patch_size, int64_t embed_dim, int64_t depth,
                           int64_t num_heads)
      : img_size_(img_size),
        patch_size_(patch_size),
        embed_dim_(embed_dim),
        depth_(depth),
        num_heads_(num_heads) {}
  /// The model's encoder: encoder_shape(model) (vit_presets.h), model.img_size,
  /// model.patch_size and model.mlp_ratio.
  static VisionTransformerOptions from_config(const config::ModelConfig& model);
  /// Image side in pixels; a multiple of patch_size.
  TORCH_ARG(int64_t, img_size);
  /// Patch side in pixels.
  TORCH_ARG(int64_t, patch_size);
  /// Token width; a multiple of num_heads and of 4 (sin-cos positions).
  TORCH_ARG(int64_t, embed_dim);
  /// Number of blocks.
  TORCH_ARG(int64_t, depth);
  /// Attention heads.
  TORCH_ARG(int64_t, num_heads);
  /// MLP hidden width / embed_dim.
  TORCH_ARG(double, mlp_ratio) = 4.0;
  /// Image channels.
  TORCH_ARG(int64_t, in_chans) = 3;
  /// Stochastic depth: block i of N drops its branches with drop_path_rate * i / (N - 1)
  /// (timm's linear rule; fine-tuning).
  TORCH_ARG(double, drop_path_rate) = 0.0;
  /// pos_embed as a trained parameter (timm, MAE fine-tuning) rather than the fixed buffer
  /// of pre-training; it starts from the same sin-cos values.
  TORCH_ARG(bool, learned_pos_embed) = false;
  /// The final `norm` (timm: absent, Identity, when global average pooling uses fc_norm).
  TORCH_ARG(bool, final_norm) = true;
};

class VisionTransformerImpl : public torch::nn::Cloneable<VisionTransformerImpl> {
 public:
  explicit VisionTransformerImpl(const VisionTransformerOptions& options);
  /// Built from the model section (VisionTransformerOptions::from_config).
  explicit VisionTransformerImpl(const config::ModelConfig& model);
  void reset() override;

  /// rgb: [B, C, H, W] -> patch embeddings plus their positions [B, L, D], row-major.
  torch::Tensor patch_tokens(const torch::Tensor& rgb);
  /// The patch positions, pos_embed without the class row: [1, L, D].
  torch::Tensor patch_pos_embed() const;
  /// cls_token plus its position (zero): [1, 1, D].
  torch::Tensor class_token() const;
  /// x: [B, N, D] (class token first, then any subset of patch tokens) -> blocks, then the
  /// final norm (if the model has one) -> [B, N, D].
  torch::Tensor forward_blocks(const torch::Tensor& x);
  /// Activation checkpointing of every block in training (models/block_checkpoint.h;
  /// train.activation_checkpointing): off by default.
  void set_activation_checkpointing(bool on) { checkpoint_blocks_ = on; }
  /// rgb: [B, C, H, W] -> [B, 1 + L, D] on all tokens, class token first (timm's
  /// forward_features).
  torch::Tensor forward_features(const torch::Tensor& rgb);
  /// x: [B, 1 + L, D] (class token first, then all L patch tokens) -> the patch affinity
  /// [B, L, L] float of Evolved Part Masking: the softmax attention weights summed over
  /// every block and head, class-token row and column dropped. Runs the explicit-softmax
  /// attention path (AttentionImpl::forward_with_weights); no final norm is needed.
  torch::Tensor attention_affinity(const torch::Tensor& x);

  /// Patches per side.
  int64_t grid() const { return options.img_size() / options.patch_size(); }
  /// Patch tokens per image, L.
  int64_t num_patches() const { return grid() * grid(); }

  VisionTransformerOptions options;
  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token;  ///< [1, 1, D] learned
  /// [1, 1 + L, D], sin-cos with a zero row for cls_token: a fixed buffer, or a parameter
  /// with options.learned_pos_embed.
  torch::Tensor pos_embed;
  torch::nn::ModuleList blocks{nullptr};
  LayerNorm norm{nullptr};  ///< null without options.final_norm

 private:
  bool checkpoint_blocks_ = false;
};
TORCH_MODULE(VisionTransformer);

/// The backbone's parameters and buffers under timm's names (a timm VisionTransformer with
/// num_classes=0 loads them with strict=True), detached, in registration order.
torch::OrderedDict<std::string, torch::Tensor> timm_state_dict(const VisionTransformerImpl& vit);

}  // namespace c2fmae::models
