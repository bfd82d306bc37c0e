// The progressive masking curriculum: a pure function of training progress
// t = step / total_steps giving the generator weights (semantic, instance, random; sum 1)
// and, when the keyframes carry them, the loss weights (DESIGN.md §1). Before the first
// keyframe its values hold, after the last the last's.
#pragma once
#include <array>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/modality.h"

namespace c2fmae::curriculum {

/// Share of a batch each generator gets; indexed in mask_generator_names() order.
struct GeneratorWeights {
  double semantic = 0.0;
  double instance = 0.0;
  double random = 1.0;

  std::array<double, 3> as_array() const { return {semantic, instance, random}; }
};

enum class Interpolation { kLinear, kCosine, kStep };

class CurriculumSchedule {
 public:
  /// `loss_weights` are used whenever the keyframes carry none.
  CurriculumSchedule(const config::CurriculumConfig& config, ModalityWeights loss_weights);

  /// Generator weights at progress t in [0, 1] (clamped): each keyframe's weights are
  /// normalised to sum 1, then interpolated.
  GeneratorWeights generator_weights(double progress) const;
  /// Loss weights at progress t.
  ModalityWeights loss_weights(double progress) const;

 private:
  /// Keyframe index k and blend a in [0, 1] between keyframes k and k + 1.
  std::pair<size_t, double> locate(double progress) const;

  std::vector<config::Keyframe> keyframes_;
  Interpolation interpolation_;
  ModalityWeights loss_weights_;
};

}  // namespace c2fmae::curriculum
