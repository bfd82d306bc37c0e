// The C2FMAE model: input adapters -> shared ViT encoder on the visible tokens of all
// modalities -> cascaded decoder (DESIGN.md §1). MAE is the same model with only `rgb`
// enabled, 49 visible tokens and an 8 x 512 decoder without cross-attention (a config).
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
#include "c2fmae/models/rgb_adapter.h"
#include "c2fmae/models/semantic_adapter.h"
#include "c2fmae/models/vit_encoder.h"

namespace c2fmae::models {

struct ModelOutput {
  torch::Tensor encoded;                   ///< [B, 1 + V, D] encoder output, global token first
  torch::Tensor visible;                   ///< [B, V] visible flattened token indices
  std::vector<torch::Tensor> predictions;  ///< per enabled modality, coarse to fine: [B, L, out]
};

class C2fmaeImpl : public torch::nn::Cloneable<C2fmaeImpl> {
 public:
  explicit C2fmaeImpl(const config::ModelConfig& config);
  void reset() override;

  /// Tokens of every enabled modality with positions and modality embeddings:
  /// batch fields [B, ...] -> [B, M * L, D] (row m * L + l, as the mask is flattened).
  torch::Tensor embed_tokens(const Batch& batch);
  /// Encoder over the visible tokens: [B, 1 + V, D]. Needs batch.mask [B, M, L].
  torch::Tensor encode(const Batch& batch, const torch::Tensor& visible);
  /// Full forward: encoder output and one prediction per enabled modality.
  ModelOutput forward(const Batch& batch);

  /// Values predicted per token for modality m.
  int64_t output_dim(Modality m) const;
  const std::vector<Modality>& modalities() const { return modalities_; }
  int64_t num_patches() const { return grid_ * grid_; }

  config::ModelConfig config;
  SemanticAdapter semantic_adapter{nullptr};
  InstanceAdapter instance_adapter{nullptr};
  RgbAdapter rgb_adapter{nullptr};
  torch::Tensor modality_embed;  ///< [M, D] learned, one per enabled modality
  torch::Tensor global_token;    ///< [1, 1, D] learned (MAE's cls token)
  torch::Tensor pos_embed;       ///< buffer [1, L, D] fixed sin-cos
  VitEncoder encoder{nullptr};
  CascadeDecoder decoder{nullptr};

 private:
  std::vector<Modality> modalities_;
  int64_t grid_ = 0;
};
TORCH_MODULE(C2fmae);

/// MAE's initialisation (facebookresearch/mae): xavier-uniform Linear and patch-embedding
/// weights, zero biases, unit LayerNorms, N(0, 0.02) tokens and embeddings.
void init_mae_weights(torch::nn::Module& module);

}  // namespace c2fmae::models
