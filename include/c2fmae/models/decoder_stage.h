// One decoder stage: reconstructs one modality's L tokens (DESIGN.md §1).
//
// The stage projects the encoder tokens to its width (embed) and builds its queries
// [global, L patch queries] from its own modality's visible tokens and a mask token
// elsewhere, plus fixed sin-cos positions. With cross-attention blocks, the queries also
// take the stage's learned embedding of their modality, and they cross-attend to a context,
// as MultiMAE's output adapters (multimae/output_adapters.py):
//   - every projected encoder token plus the sin-cos position of its patch (visible % L) and
//     a learned embedding of its modality (visible / L); the global token gets neither;
//   - in a cascade, the previous stage's output tokens, each patch token plus its position
//     and a learned "previous stage" embedding.
// Then self-attention blocks, a final LayerNorm (MAE; MultiMAE has none: final_norm) and a
// linear head, applied only to the rows asked for (the masked tokens: the loss reads nothing
// else). With no cross-attention blocks it is exactly MAE's decoder (decoder_embed,
// mask_token, decoder_pos_embed, blocks, norm, pred).
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
  /// Modalities the encoder tokens come from (rows of the context embedding).
  TORCH_ARG(int64_t, num_modalities) = 1;
  /// Whether the stage receives a previous stage's tokens (a cascade stage after the first).
  TORCH_ARG(bool, has_previous) = false;
  /// A residual connection around the cross-attention (ours; MultiMAE: none).
  TORCH_ARG(bool, cross_residual) = true;
  /// A LayerNorm before the head (MAE, ours; MultiMAE: none).
  TORCH_ARG(bool, final_norm) = true;
  /// Compute the stage in fp32 even under autocast (MultiMAE's fp32_output_adapters).
  TORCH_ARG(bool, fp32) = false;
};

/// What a stage returns: its tokens (context for the next stage) and its prediction.
struct StageOutput {
  torch::Tensor tokens;      ///< [B, 1 + L, dim], global token first
  torch::Tensor prediction;  ///< [N, out_dim] for the N rows asked for
};

class DecoderStageImpl : public torch::nn::Cloneable<DecoderStageImpl> {
 public:
  explicit DecoderStageImpl(const DecoderStageOptions& options);
  void reset() override;
  /// encoded: [B, 1 + V, De] encoder output (global first); visible: [B, V] flattened token
  /// indices (see core/mask.h); modality: this stage's row m of the mask; previous:
  /// [B, 1 + L, dim] output tokens of the previous stage or undefined; rows: [N] int64 rows
  /// b * L + l to predict (undefined: all B * L, in order).
  StageOutput forward(const torch::Tensor& encoded, const torch::Tensor& visible, int64_t modality,
                      const torch::Tensor& previous, const torch::Tensor& rows = {});

  DecoderStageOptions options;
  torch::nn::Linear embed{nullptr};
  torch::Tensor mask_token;
  torch::Tensor pos_embed;       ///< buffer [1, 1 + L, dim], zeros for the global token
  torch::Tensor context_embed;   ///< [num_modalities, dim] learned; with cross-attention only
  torch::Tensor previous_embed;  ///< [1, 1, dim] learned; when has_previous
  torch::nn::ModuleList cross_blocks{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  LayerNorm norm{nullptr};  ///< null without final_norm
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(DecoderStage);

}  // namespace c2fmae::models
