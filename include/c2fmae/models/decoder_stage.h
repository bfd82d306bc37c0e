// One decoder stage: reconstructs one modality's L tokens (DESIGN.md §1).
//
// The stage projects the encoder tokens to its width (embed), builds its queries
// [global, L patch queries] from its own modality's visible tokens and a mask token
// elsewhere, plus fixed sin-cos positions; cross-attends to a context of the projected
// encoder tokens plus, in a cascade, the previous stage's output tokens; then runs
// self-attention blocks, a LayerNorm and a linear head. With no cross-attention blocks it
// is exactly MAE's decoder (decoder_embed, mask_token, decoder_pos_embed, blocks, norm, pred).
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "c2fmae/models/layer_norm.h"

namespace c2fmae::models {

struct DecoderStageOptions {
  DecoderStageOptions(int64_t encoder_dim, int64_t dim, int64_t grid, int64_t out_dim)
      : encoder_dim_(encoder_dim), dim_(dim), grid_(grid), out_dim_(out_dim) {}
  /// Width of the encoder tokens.
  TORCH_ARG(int64_t, encoder_dim);
  /// Width of this stage.
  TORCH_ARG(int64_t, dim);
  /// Patches per side; the stage predicts grid * grid tokens.
  TORCH_ARG(int64_t, grid);
  /// Values predicted per token (e.g. p * p * 3 for RGB).
  TORCH_ARG(int64_t, out_dim);
  /// Self-attention blocks after the cross-attention.
  TORCH_ARG(int64_t, depth) = 2;
  /// Cross-attention blocks; 0 = MAE-style decoder over its own tokens only.
  TORCH_ARG(int64_t, cross_blocks) = 1;
  /// Attention heads.
  TORCH_ARG(int64_t, num_heads) = 8;
  /// MLP hidden width / dim.
  TORCH_ARG(double, mlp_ratio) = 4.0;
};

/// What a stage returns: its tokens (context for the next stage) and its prediction.
struct StageOutput {
  torch::Tensor tokens;      ///< [B, 1 + L, dim], global token first
  torch::Tensor prediction;  ///< [B, L, out_dim]
};

class DecoderStageImpl : public torch::nn::Cloneable<DecoderStageImpl> {
 public:
  explicit DecoderStageImpl(const DecoderStageOptions& options);
  void reset() override;
  /// encoded: [B, 1 + V, De] encoder output (global first); visible: [B, V] flattened token
  /// indices (see core/mask.h); modality: this stage's row m of the mask; previous:
  /// [B, 1 + L, dim] output tokens of the previous stage or undefined.
  StageOutput forward(const torch::Tensor& encoded, const torch::Tensor& visible, int64_t modality,
                      const torch::Tensor& previous);

  DecoderStageOptions options;
  torch::nn::Linear embed{nullptr};
  torch::Tensor mask_token;
  torch::Tensor pos_embed;  ///< buffer [1, 1 + L, dim], zeros for the global token
  torch::nn::ModuleList cross_blocks{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(DecoderStage);

}  // namespace c2fmae::models
