// Region-guided masking, shared by the `semantic` and `instance` generators.
//
// Per sample, every patch gets the majority label of its pixels in the guiding map
// (patch_regions in patch_majority.h, at any map resolution); the patches sharing a label
// are a region. Then, with L patches, target = ceil(hide_ratio * L) and n regions:
//
//   1. Whole regions. The regions are visited in random order and one is hidden whole only
//      if it fits: hidden + size <= target (the ratio is never overshot, so a region larger
//      than the target is never hidden whole), and at most cap = max(1,
//      floor(max_region_share * n)) regions are hidden whole, never all n when n >= 2.
//   2. Anchor. When n >= 2, one patch of a random region not hidden whole is the anchor: it
//      is never hidden and is visible in at least one modality where regions are hidden, so
//      every image with two or more regions keeps part of one of them to see.
//   3. Top-up. Random non-anchor patches are hidden until exactly `target` are.
//   4. Budget. The num_visible tokens are split over the modalities by Dirichlet(alpha)
//      (split_budget, as the random generator does), with the patches not hidden as each
//      modality's capacity, and drawn uniformly in each.
//
// Why not hide whole regions until the ratio is reached, in every modality: on the
// synthetic shapes that hid every instance of 99% of the images with two or more, and a
// region larger than half the image whole; the encoder was left nothing of the objects
// whose structure the decoder must rebuild. The fit rule and the cap alone keep one
// visible in ~98% of those images, the anchor in all of them.
//
// Where a patch is hidden is `hide_in`: in every enabled modality (kAll, where regions were
// hidden before `masking.guided_hide_in` existed) or only in the guiding modality and the
// finer ones, coarse to fine semantic < instance < rgb (kGuideAndFiner, our default): with
// instance guidance the semantic map stays available where instances are hidden, the
// coarse-to-fine premise of the cascade (DESIGN.md §1). For the semantic generator the two
// are the same. The region comes from the map even when the guiding modality is not
// enabled; it is then hidden in the enabled modalities finer than the guide (kAll: in all),
// and where there is none (instance guidance, semantic alone) the mask is plain random.
//
// The visible budget comes first: hiding (whole regions and top-up) stops where the patches
// left could not hold num_visible tokens, so every sample gets exactly num_visible visible
// tokens. A sample with no region (one class, no instance) gets only the random top-up.
#pragma once
#include <string>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

/// Which modalities a guided generator hides its regions in: the config's enum
/// (masking.guided_hide_in).
using GuidedHideIn = config::GuidedHideIn;

/// The knobs of a region-guided generator; defaults as the masking section's.
struct RegionGuidedOptions {
  double hide_ratio = 0.5;        ///< fraction of patches hidden (regions + top-up)
  double dirichlet_alpha = 1.0;   ///< concentration of the budget split over modalities
  double max_region_share = 0.5;  ///< at most max(1, floor(share * n)) of n regions whole
  GuidedHideIn hide_in = GuidedHideIn::kGuideAndFiner;

  /// masking.dirichlet_alpha, guided_max_region_share and guided_hide_in, with the
  /// generator's own hide ratio (masking.semantic_hide_ratio or instance_hide_ratio).
  static RegionGuidedOptions from_config(const config::MaskingConfig& config, double hide_ratio);
};

/// Which patches one sample hides, before the visible budget is drawn.
struct HidingPlan {
  std::vector<bool> hidden;   ///< [L]: hidden in the hide-in modalities
  int64_t anchor = -1;        ///< patch to keep visible in a hide-in modality; -1 if none
  int64_t whole_regions = 0;  ///< regions hidden whole
  int64_t num_regions = 0;    ///< n
};

/// Steps 1-3 above for one sample. labels: [L] per-patch region labels; in_region[k]:
/// whether patch k belongs to a region at all (instance background does not). Hides up to
/// min(target, L - keep_min) patches (keep_min: patches that must stay unhidden for the
/// visible budget), one less if an anchor is needed; an anchor is chosen when there are two
/// or more regions and `anchor` is true.
HidingPlan plan_hiding(Rng& rng, const std::vector<int64_t>& labels,
                       const std::vector<bool>& in_region, int64_t target, int64_t keep_min,
                       double max_region_share, bool anchor);

class RegionGuidedGenerator : public MaskGenerator {
 public:
  /// inputs.batch's guiding map ([B, H, W], any integer dtype, H = W a multiple of the
  /// grid: full or quarter resolution) -> [B, M, L] bool, num_visible visible per sample.
  torch::Tensor generate(const MaskInputs& inputs, uint64_t seed) const override;
  /// It reads a label map.
  MaskNeeds needs() const override {
    MaskNeeds n;
    n.label_maps = true;
    return n;
  }

 protected:
  /// `guide`: the modality whose map the regions come from. Throws std::invalid_argument
  /// for options out of range.
  RegionGuidedGenerator(MaskSpec spec, Modality guide, RegionGuidedOptions options);
  /// The per-pixel label map regions come from: [B, H, W].
  virtual const torch::Tensor& region_map(const Batch& batch) const = 0;
  /// Whether patches with this label form a region.
  virtual bool is_region(int64_t label) const = 0;

 private:
  MaskSpec spec_;
  Modality guide_;
  RegionGuidedOptions options_;
  std::vector<bool> hides_;  ///< [M]: whether regions are hidden in modality m
};

}  // namespace c2fmae::masking
