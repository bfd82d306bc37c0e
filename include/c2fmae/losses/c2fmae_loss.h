// The pre-training objective: lambda_S * L_S + lambda_I * L_I + lambda_R * L_R over the
// enabled modalities, each on masked tokens only (DESIGN.md §1).
#pragma once
#include <torch/types.h>

#include <functional>
#include <utility>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/batch.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/losses/instance_loss.h"
#include "c2fmae/losses/reduction.h"

namespace c2fmae::losses {

struct LossTerms {
  torch::Tensor total;                                    ///< scalar, weighted sum
  std::vector<std::pair<Modality, torch::Tensor>> terms;  ///< unweighted, per modality
};

/// Sums the terms' counts ([M] float, one per modality) over the processes of a
/// data-parallel run, in place of this process's counts; unset in a single process.
using CountSum = std::function<torch::Tensor(const torch::Tensor&)>;

class C2fmaeLoss {
 public:
  C2fmaeLoss(const config::ModelConfig& model, const config::LossConfig& loss);

  /// predictions: one [N_m, out_m] per enabled modality, coarse to fine, for the rows
  /// [N_m] (b * L + l) in `rows` (the model's output: its masked tokens); batch: the
  /// targets; weights: lambda per modality; sum_counts: see CountSum (each term is then
  /// this process's share of the whole batch's term). Reads no mask and makes no host sync.
  LossTerms operator()(const std::vector<torch::Tensor>& predictions,
                       const std::vector<torch::Tensor>& rows, const Batch& batch,
                       const ModalityWeights& weights, const CountSum& sum_counts = {}) const;

 private:
  std::vector<Modality> modalities_;
  int64_t patch_;
  int64_t img_size_;
  Reduction reduction_;
  int64_t num_classes_;
  int64_t instance_dim_;
  bool norm_pix_;
  InstanceLossOptions instance_options_;
};

}  // namespace c2fmae::losses
