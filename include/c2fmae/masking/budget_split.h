// Splitting the visible-token budget over modalities (MultiMAE's Dirichlet sampling).
#pragma once
#include <cstdint>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

/// Splits `budget` tokens over modalities with proportions ~ Dirichlet(alpha) and
/// largest-remainder rounding, never giving modality m more than capacity[m]; what a full
/// modality cannot take goes to the others. Requires budget <= sum(capacity).
std::vector<int64_t> split_budget(Rng& rng, double alpha, int64_t budget,
                                  const std::vector<int64_t>& capacity);

/// How every generator splits one sample's `budget` over spec.modalities: with probability
/// spec.rgb_only_prob all of it on RGB (as much as capacity allows; the rest split as
/// below over the others), else split_budget. Draws nothing extra when rgb_only_prob is 0.
std::vector<int64_t> split_visible(Rng& rng, const MaskSpec& spec, double alpha, int64_t budget,
                                   const std::vector<int64_t>& capacity);

}  // namespace c2fmae::masking
