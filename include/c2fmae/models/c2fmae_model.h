// The C2FMAE model: input adapters -> shared ViT encoder on the visible tokens of all
// modalities -> cascaded decoder (DESIGN.md §1). MAE is the same model with only `rgb`
// enabled, 49 visible tokens and an 8 x 512 decoder without cross-attention (a config).
//
// The encoder is a timm-shaped VisionTransformer registered as `backbone`: its patch_embed
// is the RGB adapter, its cls_token the global token, its pos_embed the patch positions of
// every modality, and its blocks and norm the shared encoder. The encoder's weights are
// therefore the parameters under `backbone.`, named as timm's (timm_state_dict).
//
//   config::ModelConfig cfg;               // or from YAML
//   models::C2fmae model(cfg);
//   auto out = model->forward(batch);     // batch.mask set by masking/
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/batch.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/models/cascade_decoder.h"
#include "c2fmae/models/instance_adapter.h"
#include "c2fmae/models/semantic_adapter.h"
#include "c2fmae/models/vision_transformer.h"

namespace c2fmae::models {

struct ModelOutput {
  torch::Tensor encoded;  ///< [B, 1 + V, D] encoder output, global token first
  torch::Tensor visible;  ///< [B, V] visible flattened token indices
  /// Per enabled modality, coarse to fine: [N_m, out_m] for the rows `rows[m]`.
  std::vector<torch::Tensor> predictions;
  /// Per enabled modality: [N_m] rows b * L + l predicted (the masked tokens, or all B * L
  /// in order with forward(batch, /*all_tokens=*/true)).
  std::vector<torch::Tensor> rows;
};

/// Values the decoder head of modality `m` predicts per token: semantic logits (classes x
/// (p/4)^2), instance embeddings (head dim x (p/4)^2) or RGB pixels (3 p^2).
int64_t head_output_dim(const config::ModelConfig& model, Modality m);

class C2fmaeImpl : public torch::nn::Cloneable<C2fmaeImpl> {
 public:
  explicit C2fmaeImpl(const config::ModelConfig& config);
  void reset() override;

  /// Tokens of every enabled modality with positions and modality embeddings:
  /// batch fields [B, ...] -> [B, M * L, D] (row m * L + l, as the mask is flattened).
  torch::Tensor embed_tokens(const Batch& batch);
  /// Encoder over the visible tokens: [B, 1 + V, D]. Needs batch.mask [B, M, L].
  torch::Tensor encode(const Batch& batch, const torch::Tensor& visible);
  /// The encoder on every RGB token and nothing else, as a downstream ViT sees an image:
  /// rgb [B, 3, H, W] -> [B, 1 + L, D] (the modality embedding's rgb row added to each
  /// patch token, as in encode()). Needs rgb enabled.
  torch::Tensor encode_rgb(const torch::Tensor& rgb);
  /// Full forward: encoder output and one prediction per enabled modality, for its masked
  /// tokens (batch.masked; the loss reads nothing else) or, with all_tokens, for every token.
  /// Takes batch.visible and batch.masked when set (the loader sets them: no host sync),
  /// else derives them from batch.mask on the host.
  ModelOutput forward(const Batch& batch, bool all_tokens = false);

  /// Values predicted per token for modality m.
  int64_t output_dim(Modality m) const;
  const std::vector<Modality>& modalities() const { return modalities_; }
  int64_t num_patches() const { return backbone->num_patches(); }

  config::ModelConfig config;
  /// The encoder; its patch_embed is the RGB adapter (present even when rgb is disabled).
  VisionTransformer backbone{nullptr};
  SemanticAdapter semantic_adapter{nullptr};
  InstanceAdapter instance_adapter{nullptr};
  torch::Tensor modality_embed;  ///< [M, D] learned, one per enabled modality
  CascadeDecoder decoder{nullptr};

 private:
  std::vector<Modality> modalities_;
};
TORCH_MODULE(C2fmae);

/// MAE's initialisation (facebookresearch/mae): xavier-uniform Linear and patch-embedding
/// weights, zero biases, unit LayerNorms (models::LayerNorm), N(0, 0.02) tokens and
/// embeddings. Throws for a torch::nn::LayerNorm: the model's norms are models::LayerNorm,
/// and a norm of another type would otherwise keep its own initialisation unnoticed.
void init_mae_weights(torch::nn::Module& module);

/// The encoder's weights under timm's names: timm_state_dict(*model.backbone).
torch::OrderedDict<std::string, torch::Tensor> timm_state_dict(const C2fmaeImpl& model);

}  // namespace c2fmae::models
