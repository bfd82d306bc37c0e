#include "c2fmae/curriculum/curriculum_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace c2fmae::curriculum {
namespace {

Interpolation parse_interpolation(const std::string& name) {
  if (name == "linear") return Interpolation::kLinear;
  if (name == "cosine") return Interpolation::kCosine;
  if (name == "step") return Interpolation::kStep;
  throw std::invalid_argument("unknown curriculum interpolation '" + name +
                              "'; hint: use linear, cosine or step");
}

double lerp(double a, double b, double t) { return a + (b - a) * t; }

}  // namespace

CurriculumSchedule::CurriculumSchedule(const config::CurriculumConfig& config,
                                       ModalityWeights loss_weights)
    : keyframes_(config.keyframes),
      interpolation_(parse_interpolation(config.interpolation)),
      loss_weights_(loss_weights) {
  if (keyframes_.empty()) {
    throw std::invalid_argument("curriculum: no keyframes; hint: give at least one");
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
  const double ls = lo.semantic + lo.instance + lo.random;
  const double hs = hi.semantic + hi.instance + hi.random;
  return {lerp(lo.semantic / ls, hi.semantic / hs, a), lerp(lo.instance / ls, hi.instance / hs, a),
          lerp(lo.random / ls, hi.random / hs, a)};
}

ModalityWeights CurriculumSchedule::loss_weights(double progress) const {
  if (!keyframes_.front().has_loss_weights()) return loss_weights_;
  const auto [k, a] = locate(progress);
  const auto& lo = keyframes_[k];
  const auto& hi = keyframes_[std::min(k + 1, keyframes_.size() - 1)];
  return {lerp(lo.loss_semantic, hi.loss_semantic, a), lerp(lo.loss_instance, hi.loss_instance, a),
          lerp(lo.loss_rgb, hi.loss_rgb, a)};
}

}  // namespace c2fmae::curriculum
