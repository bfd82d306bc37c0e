#include "c2fmae/curriculum/curriculum_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "c2fmae/config/config.h"
#include "c2fmae/masking/generator_registry.h"

namespace c2fmae::curriculum {
namespace {

double lerp(double a, double b, double t) { return a + (b - a) * t; }

}  // namespace

double GeneratorWeights::of(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return values[i];
  }
  return 0.0;
}

CurriculumSchedule::CurriculumSchedule(const config::CurriculumConfig& curriculum,
                                       const config::LossConfig& loss)
    : keyframes_(curriculum.keyframes),
      interpolation_(curriculum.interpolation),
      loss_weights_{loss.weight_semantic, loss.weight_instance, loss.weight_rgb} {
  if (keyframes_.empty()) {
    throw std::invalid_argument("curriculum: no keyframes\nhint: give at least one");
  }
  for (const auto& k : keyframes_) {
    for (const auto& g : k.generators) {
      if (std::find(names_.begin(), names_.end(), g.first) == names_.end()) {
        names_.push_back(g.first);
      }
    }
  }
}

std::pair<size_t, double> CurriculumSchedule::locate(double progress) const {
  const double t = std::clamp(progress, 0.0, 1.0);
  if (t <= keyframes_.front().at) return {0, 0.0};
  if (t >= keyframes_.back().at) return {keyframes_.size() - 1, 0.0};
  size_t k = 0;
  while (k + 1 < keyframes_.size() && keyframes_[k + 1].at <= t) ++k;
  const double span = keyframes_[k + 1].at - keyframes_[k].at;
  double a = (t - keyframes_[k].at) / span;
  switch (interpolation_) {
    case Interpolation::kLinear:
      break;
    case Interpolation::kCosine:
      a = 0.5 * (1.0 - std::cos(M_PI * a));
      break;
    case Interpolation::kStep:
      a = 0.0;
      break;
  }
  return {k, a};
}

GeneratorWeights CurriculumSchedule::generator_weights(double progress) const {
  const auto [k, a] = locate(progress);
  const auto& lo = keyframes_[k];
  const auto& hi = keyframes_[std::min(k + 1, keyframes_.size() - 1)];
  // Each keyframe is normalised first, so a keyframe means the shares it states.
  const double ls = lo.total_weight(), hs = hi.total_weight();
  GeneratorWeights w;
  w.names = names_;
  for (const auto& name : names_) {
    w.values.push_back(lerp(lo.weight(name) / ls, hi.weight(name) / hs, a));
  }
  return w;
}

ModalityWeights CurriculumSchedule::loss_weights(double progress) const {
  if (!keyframes_.front().has_loss_weights()) return loss_weights_;
  const auto [k, a] = locate(progress);
  const auto& lo = keyframes_[k];
  const auto& hi = keyframes_[std::min(k + 1, keyframes_.size() - 1)];
  // A modality the keyframes leave out keeps the loss section's weight.
  auto at = [&](Modality m, double fallback) {
    const double l = lo.loss_weight(m), h = hi.loss_weight(m);
    return std::isnan(l) ? fallback : lerp(l, h, a);
  };
  return {at(Modality::kSemantic, loss_weights_.semantic),
          at(Modality::kInstance, loss_weights_.instance), at(Modality::kRgb, loss_weights_.rgb)};
}

void check_generator_names(const config::CurriculumConfig& curriculum, config::Checker& c) {
  const auto known = masking::generator_names();
  for (size_t i = 0; i < curriculum.keyframes.size(); ++i) {
    for (const auto& g : curriculum.keyframes[i].generators) {
      // Keyframe loss weights were loss_<modality> before they took loss.weight_*'s names.
      const bool old_weight_name = g.first.rfind("loss_", 0) == 0;
      c.require(masking::is_registered_generator(g.first),
                "curriculum.keyframes[" + std::to_string(i) + "]." + g.first, g.second,
                "unknown mask generator '" + g.first + "'",
                old_weight_name ? "a keyframe's loss weights are named like loss.weight_*: write " +
                                      std::string(config::kLossWeightKeyPrefix) + g.first.substr(5)
                                : config::did_you_mean(g.first, known, "generators"));
    }
  }
}

void check_curriculum_config(const config::CurriculumConfig& curriculum,
                             const config::ModelConfig& model, const config::MaskingConfig& masking,
                             config::Checker& c) {
  check_generator_names(curriculum, c);
  const auto spec = masking::MaskSpec::from_config(model, masking);
  for (size_t i = 0; i < curriculum.keyframes.size(); ++i) {
    for (const auto& g : curriculum.keyframes[i].generators) {
      const auto key = "curriculum.keyframes[" + std::to_string(i) + "]." + g.first;
      const auto needs = masking::make_generator(g.first, spec, masking)->needs();
      const bool reads_maps = needs.label_maps;
      c.require(!needs.affinity || model.has(Modality::kRgb), "model.modalities",
                std::string("without rgb"),
                "the curriculum's '" + g.first + "' generator (" + key +
                    ") reads the patch affinity of an EMA encoder's attention on the RGB tokens",
                "enable rgb in model.modalities, or use generators that read no affinity (" +
                    masking::generators_that(
                        spec, masking, [](const masking::MaskNeeds& n) { return !n.affinity; }) +
                    ")");
      c.require(!reads_maps || patch_fits_label_maps(model.patch_size), "model.patch_size",
                model.patch_size,
                "the curriculum's '" + g.first + "' generator (" + key +
                    ") reads the label maps, and " + label_patch_rule(),
                "use a patch that is a multiple of " + std::to_string(kLabelDownsample) +
                    " and divides model.img_size (e.g. 16 for 224), or only generators that "
                    "read no map in curriculum.keyframes (" +
                    masking::generators_that(
                        spec, masking, [](const masking::MaskNeeds& n) { return !n.label_maps; }) +
                    ")");
    }
  }
}

}  // namespace c2fmae::curriculum
