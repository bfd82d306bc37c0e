// `instance` generator: region-guided masking (region_guided_generator.h) over instances,
// the patches of one majority instance id (ids arbitrary, any integer dtype); background
// (kNoInstance) is never a region. Object level. With masking.guided_hide_in:
// guide_and_finer (the default) instances are hidden in the instance and RGB rows only, so
// the semantic map stays available where instances are hidden; with `all` in every row.
#pragma once
#include "c2fmae/core/modality.h"
#include "c2fmae/masking/region_guided_generator.h"

namespace c2fmae::masking {

class InstanceGenerator : public RegionGuidedGenerator {
 public:
  InstanceGenerator(MaskSpec spec, RegionGuidedOptions options)
      : RegionGuidedGenerator(std::move(spec), Modality::kInstance, options) {}
  /// Reads masking.instance_hide_ratio, dirichlet_alpha, guided_max_region_share and
  /// guided_hide_in.
  InstanceGenerator(const MaskSpec& spec, const config::MaskingConfig& config)
      : InstanceGenerator(spec,
                          RegionGuidedOptions::from_config(config, config.instance_hide_ratio)) {}
  std::string name() const override { return "instance"; }

 protected:
  const torch::Tensor& region_map(const Batch& batch) const override { return batch.instance; }
  bool is_region(int64_t label) const override { return label != kNoInstance; }
};

}  // namespace c2fmae::masking
