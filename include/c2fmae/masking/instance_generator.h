// `instance` generator: hides whole instances (patches whose majority instance id is the
// same, background excluded) in every modality. Object-level granularity.
#pragma once
#include "c2fmae/core/modality.h"
#include "c2fmae/masking/region_guided_generator.h"

namespace c2fmae::masking {

class InstanceGenerator : public RegionGuidedGenerator {
 public:
  InstanceGenerator(MaskSpec spec, double hide_ratio, double dirichlet_alpha)
      : RegionGuidedGenerator(std::move(spec), hide_ratio, dirichlet_alpha) {}
  /// Reads masking.instance_hide_ratio and masking.dirichlet_alpha.
  InstanceGenerator(const MaskSpec& spec, const config::MaskingConfig& config)
      : InstanceGenerator(spec, config.instance_hide_ratio, config.dirichlet_alpha) {}
  std::string name() const override { return "instance"; }

 protected:
  const torch::Tensor& region_map(const Batch& batch) const override { return batch.instance; }
  bool hideable(int64_t label) const override { return label != kNoInstance; }
};

}  // namespace c2fmae::masking
