// The visible budget of a spatial generator (block, semmae, evolved): one that decides which
// patches of the image to hide, the same in every enabled modality, as its paper does for
// RGB alone.
//
// With M enabled modalities such a generator keeps K = ceil(num_visible / M) patches
// unhidden (spatial_keep_count) and hides the other L - K everywhere; the num_visible
// tokens are then split over the modalities by Dirichlet(alpha) with K as each one's
// capacity (split_budget, as the random generator does) and drawn uniformly among the K
// patches in each. In MAE mode (M = 1) the K kept patches are exactly the visible ones, so
// the generator is its paper's mask (e.g. 49 of 196 visible: 75 % hidden).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

/// K = ceil(num_visible / M): the patches a spatial generator keeps unhidden.
int64_t spatial_keep_count(const MaskSpec& spec);

/// Writes one sample's mask ([M, L] bool, 1 = masked, as core/mask.h) from `hidden` ([L],
/// true = hidden in every modality): exactly spec.num_visible visible tokens over the
/// patches not hidden, split over modalities as above. Throws std::invalid_argument when
/// fewer than spatial_keep_count(spec) patches are not hidden.
void draw_visible(Rng& rng, const MaskSpec& spec, double dirichlet_alpha,
                  const std::vector<bool>& hidden, torch::TensorAccessor<bool, 2> sample_mask);

}  // namespace c2fmae::masking
