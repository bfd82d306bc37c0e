// An analytic estimate of a model's memory in training, from its config alone (nothing is
// built), so that a run whose memory cannot fit is refused before it allocates anything
// (train/memory_budget.h). Per sample, with T tokens of width D, r = mlp_ratio, h heads:
//
//   saved per block        (11 + 2 r) T D values: the LayerNorms' inputs and outputs, q, k, v
//                          and their contiguous copies, the attention output, the MLP's
//                          hidden activations before and after GELU (SDPA keeps no T x T
//                          matrix; 4 h T^2 more under the explicit-softmax fallback, which
//                          an attention-reading masker uses once per step, not per block)
//   cross block            the same on its T queries, plus 2 C D for the keys and values of
//                          its C context tokens
//   pre-training encoder   depth blocks on T = 1 + V visible tokens, the adapters' per-pixel
//                          embeddings (label maps at img_size / 4) and patch inputs
//   decoder stage          its cross and self blocks on T = 1 + L queries of width d, and the
//                          head's outputs and their softmax over the masked tokens; for
//                          instances, the loss's 3 (K + 1)^2 E pairwise differences of the
//                          cluster means (K = instance_slots, E = instance_head_dim)
//   classifier             depth blocks on T = 1 + L, no mask
//
// Values are 4 bytes, or 2 where bf16 autocast computes (CUDA). Parameters are counted
// exactly as the modules have them (tests compare with the built models).
#pragma once
#include <cstdint>

#include "c2fmae/config/sections.h"

namespace c2fmae::models {

struct ModelMemory {
  int64_t parameters = 0;             ///< values of the parameters
  int64_t trained = 0;                ///< of those, the ones that train (gradients, AdamW state)
  double activations_per_sample = 0;  ///< bytes kept for the backward pass, per sample
};

/// The pre-training model (models::C2fmae) of `model` with `num_visible` visible tokens.
/// `value_bytes`: 4 (fp32) or 2 (bf16 autocast).
/// `checkpointed`: train.activation_checkpointing (the encoder keeps each block's input, and
/// one block's activations at a time).
ModelMemory pretrain_memory(const config::ModelConfig& model, int64_t num_visible,
                            double value_bytes, bool checkpointed = false);

/// The classifier of `model` with `num_classes` classes; `trains_encoder` false (linear
/// probing, evaluation): the encoder runs without a graph, and only the largest block's
/// working set counts.
ModelMemory classifier_memory(const config::ClassifierConfig& model, int64_t num_classes,
                              bool trains_encoder, double value_bytes, bool checkpointed = false);

}  // namespace c2fmae::models
