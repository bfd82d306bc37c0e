#include "c2fmae/config/pretrain_config.h"

namespace c2fmae::config {

void PretrainConfig::validate() const {
  Checker c(origins);
  model.validate(c);
  masking.validate(c);
  curriculum.validate(c);
  loss.validate(c);
  data.validate(c);
  optim.validate(c);
  train.validate(c);
  dist.validate(c);
  log.validate(c);

  // Rules that span sections.
  const auto mods = static_cast<int64_t>(model.modalities.size());
  const int64_t tokens = mods * model.num_patches();
  c.require(masking.num_visible <= tokens, "masking.num_visible", masking.num_visible,
            "more than the " + std::to_string(tokens) + " tokens of " + std::to_string(mods) +
                " modalities x " + std::to_string(model.num_patches()) + " patches",
            "lower masking.num_visible (MultiMAE: 98 of 3 x 196; MAE: 49 of 196)");
  c.require(masking.num_visible < tokens, "masking.num_visible", masking.num_visible,
            "leaves no masked token to reconstruct", "lower masking.num_visible");
  const double total_weight = (model.has(Modality::kSemantic) ? loss.weight_semantic : 0.0) +
                              (model.has(Modality::kInstance) ? loss.weight_instance : 0.0) +
                              (model.has(Modality::kRgb) ? loss.weight_rgb : 0.0);
  c.require(total_weight > 0.0, "loss.weight_rgb", loss.weight_rgb,
            "every enabled modality has loss weight 0, so nothing is learned",
            "give an enabled modality a positive loss.weight_*");
  for (size_t i = 0; i < curriculum.keyframes.size(); ++i) {
    for (const auto& [m, w] : curriculum.keyframes[i].loss_weights) {
      c.require(model.has(m), "curriculum.keyframes[" + std::to_string(i) + "]." + loss_weight_key(m),
                w, std::string("moves the loss weight of ") + modality_name(m) +
                       ", which model.modalities does not enable",
                "drop the key, or enable the modality");
    }
  }
}

}  // namespace c2fmae::config
