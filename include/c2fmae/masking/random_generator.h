// `random` generator (MultiMAE): per sample, the visible budget is split over modalities
// by Dirichlet(alpha) proportions, and each modality keeps uniformly drawn patches. With
// only `rgb` enabled this is MAE's random masking.
#pragma once
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

class RandomGenerator : public MaskGenerator {
 public:
  RandomGenerator(MaskSpec spec, double dirichlet_alpha);
  /// Reads masking.dirichlet_alpha.
  RandomGenerator(const MaskSpec& spec, const config::MaskingConfig& config)
      : RandomGenerator(spec, config.dirichlet_alpha) {}
  std::string name() const override { return "random"; }
  torch::Tensor generate(const MaskInputs& inputs, uint64_t seed) const override;

 private:
  MaskSpec spec_;
  double alpha_;
};

}  // namespace c2fmae::masking
