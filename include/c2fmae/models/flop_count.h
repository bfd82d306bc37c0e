// An analytic count of the floating-point operations of a pre-training step, for model FLOPs
// utilisation (c2fmae_bench). Only matrix products are counted (2 FLOPs per multiply-add), as
// MFU is customarily defined (PaLM, appendix B): every linear layer, the patch-embedding and
// adapter projections, and the attention products Q K^T and A V. Norms, softmax, GELU,
// gathers and the loss are left out (a few % on ViT-B). Per sample, with r = mlp_ratio:
//
//   block on T tokens of width D          2 T (3 D² + D² + 2 r D²) + 4 T² D
//   cross block, T queries, C context      2 T (2 D² + 2 r D²) + 4 C D² + 4 T C D
//   encoder      rgb adapter 2 L (3 p²) D, semantic 2 L (q² E_s) D, instance
//                2 L (q² (E_i + 1)) D (q = p / 4), then depth blocks on T = 1 + V
//   decoder, per enabled modality: embed 2 (1 + V) D d, decoder_cross_blocks cross blocks of
//                T = 1 + L queries on C = 1 + V (+ 1 + L with the previous stage: cascade),
//                decoder_depth blocks on T = 1 + L of width d, the head 2 N_m d out_m on
//                N_m = (M L - V) / M masked tokens (the training forward's rows)
//   step         3 x forward (the backward pass costs twice the forward's products)
#pragma once
#include <cstdint>

#include "c2fmae/config/sections.h"

namespace c2fmae::models {

struct StepFlops {
  double adapters = 0;  ///< per sample, forward
  double encoder = 0;   ///< per sample, forward (blocks)
  double decoder = 0;   ///< per sample, forward (all stages and heads)
  /// Forward per sample.
  double forward() const { return adapters + encoder + decoder; }
  /// One training step of `batch` samples: 3 x forward.
  double step(int64_t batch) const { return 3.0 * forward() * static_cast<double>(batch); }
};

/// The count above for `model` with `num_visible` visible tokens.
StepFlops pretrain_flops(const config::ModelConfig& model, int64_t num_visible);

}  // namespace c2fmae::models
