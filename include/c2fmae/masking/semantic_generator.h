// `semantic` generator: hides whole semantic regions (patches of one majority class,
// ignore regions included) in every modality. Scene-level, the coarsest granularity.
#pragma once
#include "c2fmae/masking/region_guided_generator.h"

namespace c2fmae::masking {

class SemanticGenerator : public RegionGuidedGenerator {
 public:
  SemanticGenerator(MaskSpec spec, double hide_ratio, double dirichlet_alpha)
      : RegionGuidedGenerator(std::move(spec), hide_ratio, dirichlet_alpha) {}
  /// Reads masking.semantic_hide_ratio and masking.dirichlet_alpha.
  SemanticGenerator(const MaskSpec& spec, const config::MaskingConfig& config)
      : SemanticGenerator(spec, config.semantic_hide_ratio, config.dirichlet_alpha) {}
  std::string name() const override { return "semantic"; }

 protected:
  const torch::Tensor& region_map(const Batch& batch) const override { return batch.semantic; }
  bool hideable(int64_t) const override { return true; }
};

}  // namespace c2fmae::masking
