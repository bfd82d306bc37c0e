// The progressive masking curriculum: a pure function of training progress
// t = step / total_steps giving the mask generators' weights (sum 1) and, when the
// keyframes carry them, the loss weights (DESIGN.md §1). Before the first keyframe its
// values hold, after the last the last's. The generators are those the keyframes name,
// in the order they are first named; a keyframe that omits one gives it weight 0.
#pragma once
#include <string>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/modality.h"

namespace c2fmae::curriculum {

/// The share of a batch each generator gets.
struct GeneratorWeights {
  std::vector<std::string> names;  ///< the curriculum's generators
  std::vector<double> values;      ///< one per name, sum 1

  /// The weight of `name` (0 if the curriculum does not name it).
  double of(const std::string& name) const;
};

/// The config's enum (curriculum.interpolation), under the name this area uses.
using Interpolation = config::CurriculumInterpolation;

class CurriculumSchedule {
 public:
  /// The loss section's weights hold whenever the keyframes carry none.
  CurriculumSchedule(const config::CurriculumConfig& curriculum, const config::LossConfig& loss);

  /// The generators the keyframes name, in the order first named.
  const std::vector<std::string>& generator_names() const { return names_; }
  /// Generator weights at progress t in [0, 1] (clamped): each keyframe's weights are
  /// normalised to sum 1, then interpolated.
  GeneratorWeights generator_weights(double progress) const;
  /// Loss weights at progress t.
  ModalityWeights loss_weights(double progress) const;

 private:
  /// Keyframe index k and blend a in [0, 1] between keyframes k and k + 1.
  std::pair<size_t, double> locate(double progress) const;

  std::vector<config::Keyframe> keyframes_;
  std::vector<std::string> names_;
  Interpolation interpolation_;
  ModalityWeights loss_weights_;
};

/// Every generator name a keyframe gives is registered (the error lists the known ones).
void check_generator_names(const config::CurriculumConfig& curriculum, config::Checker& c);

/// The curriculum section's rules that need the registered generators: every name a
/// keyframe gives is one (the error lists the known ones), and a generator that reads the
/// label maps gets a patch they divide into (model.patch_size a multiple of
/// kLabelDownsample), even when the model itself reads RGB only.
void check_curriculum_config(const config::CurriculumConfig& curriculum,
                             const config::ModelConfig& model, const config::MaskingConfig& masking,
                             config::Checker& c);

}  // namespace c2fmae::curriculum
