// The pre-training root's rules that span sections; each section's own rules are in
// sections.cpp.
#include "c2fmae/config/pretrain_config.h"

#include <cmath>
#include <string>
#include <utility>

#include "c2fmae/core/number_text.h"

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
  check_schedule(c, optim, train, "MAE: 40 of 400-1600", "0");

  // Something must be learned at every point of the run: with no loss weights in the
  // keyframes the loss section's hold throughout; with them, each keyframe's weights (a
  // modality it leaves out keeps the loss section's weight), and the weights between two
  // keyframes are a blend of theirs, positive when both are.
  const auto learned = [&](const Keyframe* k) {
    double sum = 0.0;
    const std::pair<Modality, double> weights[] = {{Modality::kSemantic, loss.weight_semantic},
                                                   {Modality::kInstance, loss.weight_instance},
                                                   {Modality::kRgb, loss.weight_rgb}};
    for (const auto& [m, section_weight] : weights) {
      if (!model.has(m)) continue;
      const double w = k == nullptr ? section_weight : k->loss_weight(m);
      sum += std::isnan(w) ? section_weight : w;
    }
    return sum > 0.0;
  };
  const bool keyframe_weights =
      !curriculum.keyframes.empty() && curriculum.keyframes.front().has_loss_weights();
  c.require(keyframe_weights || learned(nullptr), "loss.weight_rgb", loss.weight_rgb,
            "every enabled modality has loss weight 0, so nothing is learned",
            "give an enabled modality a positive loss.weight_*");
  for (size_t i = 0; keyframe_weights && i < curriculum.keyframes.size(); ++i) {
    c.require(learned(&curriculum.keyframes[i]), "curriculum.keyframes[" + std::to_string(i) + "]",
              "(loss weights)",
              "every enabled modality has loss weight 0 at this keyframe, so nothing is learned "
              "there",
              "give an enabled modality a positive weight_<modality> at every keyframe");
  }
  c.require(masking.rgb_only_prob == 0.0 || model.has(Modality::kRgb), "masking.rgb_only_prob",
            masking.rgb_only_prob,
            "gives the budget to RGB, which model.modalities does not enable",
            "set it to 0, or enable rgb");
  for (size_t i = 0; i < curriculum.keyframes.size(); ++i) {
    for (const auto& [m, w] : curriculum.keyframes[i].loss_weights) {
      c.require(model.has(m),
                "curriculum.keyframes[" + std::to_string(i) + "]." + loss_weight_key(m), w,
                std::string("moves the loss weight of ") + modality_name(m) +
                    ", which model.modalities does not enable",
                "drop the key, or enable the modality");
    }
  }
}

}  // namespace c2fmae::config
