// The decoder: one stage per enabled modality in coarse-to-fine order. In `cascade` mode
// (C2FMAE) each stage also cross-attends to the previous stage's output tokens; `parallel`
// mode drops that context, which is MultiMAE (the ablation baseline).
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "c2fmae/models/decoder_stage.h"

namespace c2fmae::models {

struct CascadeDecoderOptions {
  /// One options entry per stage, coarse to fine.
  TORCH_ARG(std::vector<DecoderStageOptions>, stages);
  /// Feed each stage the previous stage's tokens (cascade) or not (parallel).
  TORCH_ARG(bool, cascade) = true;
};

class CascadeDecoderImpl : public torch::nn::Cloneable<CascadeDecoderImpl> {
 public:
  explicit CascadeDecoderImpl(const CascadeDecoderOptions& options);
  void reset() override;
  /// encoded: [B, 1 + V, De]; visible: [B, V]; rows: per stage the [N_m] rows b * L + l
  /// to predict (empty, or an undefined entry: all B * L) -> one prediction [N_m, out_m]
  /// per stage.
  std::vector<torch::Tensor> forward(const torch::Tensor& encoded, const torch::Tensor& visible,
                                     const std::vector<torch::Tensor>& rows = {});

  CascadeDecoderOptions options;
  torch::nn::ModuleList stages{nullptr};
};
TORCH_MODULE(CascadeDecoder);

}  // namespace c2fmae::models
