// The EMA encoder of the attention-guided mask generators (`evolved`, and `semmae` with
// masking.semmae_parts = attention), as Evolved Part Masking keeps one (timm's ModelEma,
// decay 0.99996, updated after every optimizer step): a copy of the model's encoder (the
// backbone and the RGB modality embedding) whose weights follow the trained ones,
//
//     ema = decay * ema + (1 - decay) * weights,
//
// and whose attention on all RGB tokens gives the patch affinity the generators parse
// (VisionTransformerImpl::attention_affinity). It is part of the training state: the
// checkpoint holds it (Engine::extra_tensors), so a resumed run masks as the uninterrupted
// one. Unlike EPM, whose EMA blocks read the trained model's patch embedding, the copy
// embeds the patches itself.
//
//   EmaEncoder ema(*model, cfg.masking.affinity_ema_decay);
//   auto affinity = ema.affinity(batch.rgb);   // [B, L, L] float on the CPU
//   ...optimizer step...
//   ema.update(*model);
#pragma once
#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "c2fmae/models/c2fmae_model.h"

namespace c2fmae::train {

class EmaEncoder {
 public:
  /// A copy of `model`'s encoder on its device. The model must have rgb enabled.
  EmaEncoder(models::C2fmaeImpl& model, double decay);
  /// Moves the copy towards the model's weights (one EMA step).
  void update(models::C2fmaeImpl& model);
  /// Makes the copy equal to the model's weights (a fresh start from loaded weights).
  void reset(models::C2fmaeImpl& model);
  /// rgb [B, 3, H, W] normalised (any device) -> [B, L, L] float on the CPU. No gradients;
  /// under bf16 autocast on CUDA when `autocast`.
  torch::Tensor affinity(const torch::Tensor& rgb, bool autocast);
  /// The copy's tensors by name, for checkpoints and the data-parallel broadcast (the
  /// tensors themselves: copying into them changes the copy).
  std::vector<std::pair<std::string, torch::Tensor>> named_tensors();
  double decay() const { return decay_; }

  /// The copy as checkpoint extra state (Engine::extra_state): named_tensors() with names
  /// prefixed "ema_encoder.".
  std::vector<std::pair<std::string, torch::Tensor>> state();
  /// What a checkpoint's extra state holds of an EMA encoder.
  struct Restored {
    enum class Outcome { kNone, kMismatch, kLoaded } outcome = Outcome::kNone;
    std::string mismatch;  ///< kMismatch: the first tensor that does not fit, and why
  };
  /// Copies the EMA encoder of `stored` (state() of an earlier run) into the copy when every
  /// tensor is there with this model's shape (kLoaded); otherwise changes nothing and says
  /// whether there was none (kNone) or another model's (kMismatch).
  Restored restore(const std::vector<std::pair<std::string, torch::Tensor>>& stored);

 private:
  /// The model's tensors in named_tensors() order.
  std::vector<torch::Tensor> source(models::C2fmaeImpl& model) const;

  double decay_;
  int64_t rgb_index_;  ///< the row of model.modality_embed that is rgb's
  models::VisionTransformer backbone_{nullptr};
  torch::Tensor modality_embed_;  ///< [D]
};

}  // namespace c2fmae::train
