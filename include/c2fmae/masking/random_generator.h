// `random` generator (MultiMAE): per sample, the visible budget is split over modalities
// by Dirichlet(alpha) proportions, and each modality keeps uniformly drawn patches. With
// only `rgb` enabled this is MAE's random masking.
#pragma once
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

class RandomGenerator : public MaskGenerator {
 public:
  RandomGenerator(MaskSpec spec, double dirichlet_alpha);
  std::string name() const override { return "random"; }
  torch::Tensor generate(const Batch& batch, uint64_t seed) const override;

 private:
  MaskSpec spec_;
  double alpha_;
};

}  // namespace c2fmae::masking
