#include "c2fmae/losses/c2fmae_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/patchify.h"
#include "c2fmae/losses/rgb_loss.h"
#include "c2fmae/losses/semantic_loss.h"

namespace c2fmae::losses {

C2fmaeLoss::C2fmaeLoss(const config::ModelConfig& model, const config::LossConfig& loss)
    : modalities_(model.modalities),
      patch_(model.patch_size),
      img_size_(model.img_size),
      reduction_(loss.reduction),
      num_classes_(model.num_semantic_classes),
      instance_dim_(model.instance_head_dim),
      norm_pix_(loss.norm_pix),
      instance_options_{loss.instance_delta_pull, loss.instance_delta_push,
                        loss.instance_weight_reg, model.instance_slots,
                        loss.instance_background == config::InstanceBackground::kCluster} {}

LossTerms C2fmaeLoss::operator()(const std::vector<torch::Tensor>& predictions,
                                 const std::vector<torch::Tensor>& rows, const Batch& batch,
                                 const ModalityWeights& weights, const CountSum& sum_counts) const {
  TORCH_CHECK(predictions.size() == modalities_.size() && rows.size() == modalities_.size(),
              "C2fmaeLoss: expected ", modalities_.size(), " predictions and row sets, but got ",
              predictions.size(), " and ", rows.size());
  std::vector<LossRatio> ratios;
  for (size_t i = 0; i < modalities_.size(); ++i) {
    const auto m = modalities_[i];
    LossRatio term;
    switch (m) {
      case Modality::kSemantic:
        term = semantic_loss(predictions[i], label_resolution(batch.semantic, img_size_), rows[i],
                             num_classes_, reduction_);
        break;
      case Modality::kInstance:
        term = instance_loss(predictions[i], label_resolution(batch.instance, img_size_), rows[i],
                             instance_dim_, instance_options_);
        break;
      case Modality::kRgb:
        term = rgb_loss(predictions[i], batch.rgb, rows[i], patch_, norm_pix_, reduction_);
        break;
    }
    ratios.push_back(term);
  }
  // Every term's count in one tensor: one all-reduce per micro-batch when data-parallel.
  std::vector<torch::Tensor> counts;
  for (const auto& r : ratios) counts.push_back(r.denominator.to(torch::kFloat));
  auto all_counts = torch::stack(counts);
  if (sum_counts) all_counts = sum_counts(all_counts);
  LossTerms out;
  for (size_t i = 0; i < modalities_.size(); ++i) {
    const auto m = modalities_[i];
    const auto term = LossRatio{ratios[i].numerator, all_counts[static_cast<int64_t>(i)]}.value();
    out.total = out.total.defined() ? out.total + weights.get(m) * term : weights.get(m) * term;
    out.terms.emplace_back(m, term);
  }
  return out;
}

}  // namespace c2fmae::losses
