// `semantic` generator: region-guided masking (region_guided_generator.h) over semantic
// regions, the patches of one majority class (ignore regions included). Scene level, the
// coarsest granularity: the semantic map is the first in the coarse-to-fine order, so
// masking.guided_hide_in makes no difference here (regions are hidden in every modality).
#pragma once
#include "c2fmae/masking/region_guided_generator.h"

namespace c2fmae::masking {

class SemanticGenerator : public RegionGuidedGenerator {
 public:
  SemanticGenerator(MaskSpec spec, RegionGuidedOptions options)
      : RegionGuidedGenerator(std::move(spec), Modality::kSemantic, options) {}
  /// Reads masking.semantic_hide_ratio, dirichlet_alpha, guided_max_region_share and
  /// guided_hide_in.
  SemanticGenerator(const MaskSpec& spec, const config::MaskingConfig& config)
      : SemanticGenerator(spec,
                          RegionGuidedOptions::from_config(config, config.semantic_hide_ratio)) {}
  std::string name() const override { return "semantic"; }

 protected:
  const torch::Tensor& region_map(const Batch& batch) const override { return batch.semantic; }
  bool is_region(int64_t) const override { return true; }
};

}  // namespace c2fmae::masking
