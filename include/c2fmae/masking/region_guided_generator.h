// Region-guided masking, shared by the `semantic` and `instance` generators.
//
// Per sample: every patch gets the majority label of its pixels; the regions (patches
// sharing a label) are visited in random order and each is hidden whole, in every
// modality, until at least `hide_ratio` of the patches are hidden (regions are never cut,
// so one large region can overshoot the ratio by its size). A region is skipped if hiding it
// would leave too few tokens for the visible budget, so every sample still gets exactly
// `num_visible` visible tokens; a sample with no hideable region (one region, no instances)
// therefore falls back to plain random masking. The visible budget is then drawn from the
// patches left, split over modalities by Dirichlet(alpha) as the random generator does.
#pragma once
#include <vector>

#include "c2fmae/masking/budget_split.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

class RegionGuidedGenerator : public MaskGenerator {
 public:
  torch::Tensor generate(const MaskInputs& inputs, uint64_t seed) const override;

 protected:
  RegionGuidedGenerator(MaskSpec spec, double hide_ratio, double dirichlet_alpha);
  /// The per-pixel label map regions come from: [B, H, W].
  virtual const torch::Tensor& region_map(const Batch& batch) const = 0;
  /// Whether a region with this label may be hidden.
  virtual bool hideable(int64_t label) const = 0;

 private:
  MaskSpec spec_;
  double hide_ratio_;
  double alpha_;
};

/// Hides whole regions of `labels` ([L] per-patch labels) in random order until at least
/// `target` patches are hidden, skipping regions that would leave fewer than `keep_min`
/// patches unhidden. Returns the hidden flag per patch.
std::vector<bool> hide_regions(Rng& rng, const std::vector<int64_t>& labels,
                               const std::vector<bool>& hideable_label, int64_t target,
                               int64_t keep_min);

}  // namespace c2fmae::masking
