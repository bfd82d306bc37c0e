#include "c2fmae/losses/c2fmae_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/patchify.h"
#include "c2fmae/losses/rgb_loss.h"
#include "c2fmae/losses/semantic_loss.h"

namespace c2fmae::losses {

C2fmaeLoss::C2fmaeLoss(const config::ModelConfig& model, const config::LossConfig& loss)
    : modalities_(model.modalities),
      patch_(model.patch_size),
      num_classes_(model.num_semantic_classes),
      instance_dim_(model.instance_head_dim),
      norm_pix_(loss.norm_pix),
      instance_options_{loss.instance_delta_pull, loss.instance_delta_push,
                        loss.instance_weight_reg} {
  if (loss.instance_loss != "discriminative") {
    throw std::invalid_argument("loss.instance_loss = " + loss.instance_loss +
                                " is not implemented\nhint: use discriminative");
  }
}

LossTerms C2fmaeLoss::operator()(const std::vector<torch::Tensor>& predictions, const Batch& batch,
                                 const ModalityWeights& weights) const {
  TORCH_CHECK(predictions.size() == modalities_.size(), "C2fmaeLoss: expected ", modalities_.size(),
              " predictions, but got ", predictions.size());
  TORCH_CHECK(batch.mask.defined(), "C2fmaeLoss: the batch has no mask");
  LossTerms out;
  for (size_t i = 0; i < modalities_.size(); ++i) {
    const auto m = modalities_[i];
    auto masked = batch.mask.select(1, static_cast<int64_t>(i));  // [B, L]
    torch::Tensor term;
    switch (m) {
      case Modality::kSemantic:
        term = semantic_loss(predictions[i], downsample_labels(batch.semantic, kLabelDownsample), masked,
                             num_classes_);
        break;
      case Modality::kInstance:
        term = instance_loss(predictions[i], downsample_labels(batch.instance, kLabelDownsample), masked,
                             instance_dim_, instance_options_);
        break;
      case Modality::kRgb:
        term = rgb_loss(predictions[i], batch.rgb, masked, patch_, norm_pix_);
        break;
    }
    out.total = out.total.defined() ? out.total + weights.get(m) * term : weights.get(m) * term;
    out.terms.emplace_back(m, term);
  }
  return out;
}

}  // namespace c2fmae::losses
