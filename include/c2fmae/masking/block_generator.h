// `block` generator: BEiT's block-wise masking (Bao et al., arXiv 2106.08254;
// microsoft/unilm, beit/masking_generator.py, class MaskingGenerator), a spatial generator
// (spatial_mask.h): it hides T = L - spatial_keep_count patches in every modality (MAE mode:
// 147 of 196), then draws the visible budget among the others.
//
// As BEiT, rectangles are placed one after another on the grid x grid patches until T are
// hidden. One attempt, with `remaining` patches still to hide and cap = min(remaining,
// block_max_patches) (no cap: remaining): area ~ U[min_patches, cap], aspect =
// exp(U[log min_aspect, -log min_aspect]), h = round(sqrt(area * aspect)), w =
// round(sqrt(area / aspect)); it fits if h < grid and w < grid (BEiT's strict check: no
// block spans a whole row or column); top ~ U{0..grid - h}, left ~ U{0..grid - w}; it is
// accepted if the patches it newly hides number n with 0 < n <= cap (overlap with earlier
// blocks is allowed), and those are hidden. Rounding is half to even, as Python's round.
//
// Differences from BEiT:
//  - A candidate whose rounded h * w < min_patches, or whose rounded h / w is outside
//    [min_aspect, 1 / min_aspect], is a failed attempt (BEiT keeps it: its rounding gives
//    e.g. 3 x 5 = 15 < 16, or 2 x 7, aspect 0.286 < 0.3). So every block is a rectangle of
//    at least min_patches with an aspect in range.
//  - BEiT's __call__ stops the whole mask after one _mask call whose 10 attempts all fail,
//    often short of its target. We keep placing while remaining > 0 (as BEiT's loop) and
//    stop after kBlockMaxFailedAttempts (100) failed attempts in total, counted over the mask.
//    (Attempts are drawn as BEiT's calls of up to kBlockAttemptsPerCall (10) attempts each,
//    a call ending at its first accepted block; a call whose 10 attempts fail does not end
//    the mask, so the draws are one flat run of attempts.)
//  - When remaining < min_patches, BEiT draws area ~ U[remaining, min_patches] (Python's
//    uniform with reversed bounds), and a block of fewer than min_patches may result; here
//    such a block fails the min_patches rule, so what is placed there is a block of at least
//    min_patches that overlaps earlier ones and adds at most `remaining`.
//  - The exact count: after the block phase, uniformly drawn single patches not yet hidden
//    are hidden until exactly T are (BEiT has no top-up: its masks hide up to its target,
//    often fewer). `topped_up` counts them: only what the failure budget leaves. With the
//    defaults on 14 x 14 and T = 147 (200 seeds): mean 2.2 single patches (1.5 % of T), max
//    8, 7.5 blocks per mask; most masks end on the failure budget, as the last few patches
//    are hard to reach with a block of 16 that must overlap earlier ones. (BEiT itself, in Python
//    with T = 147, ends short of T in ~36 % of masks, by 0.7 patches on average.)
//  - Area is U[min, cap) (uniform01 is in [0, 1)) where Python's random.uniform may return
//    cap itself; draws come from core/random.h, not Python's random.
//
// Keys: masking.block_min_patches (BEiT's min_num_patches; its pre-training scripts use
// 16), masking.block_max_patches (0 = no cap, BEiT's default None), masking.block_min_aspect
// (0.3; BEiT's max_aspect is its default 1 / min_aspect).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

/// Attempts per call as BEiT's _mask (informative: a failed call does not end the mask).
inline constexpr int64_t kBlockAttemptsPerCall = 10;
/// Failed attempts, over one mask, after which the block phase ends.
inline constexpr int64_t kBlockMaxFailedAttempts = 100;

/// A block of patches: rows [top, top + h), columns [left, left + w).
struct Rect {
  int64_t top = 0;
  int64_t left = 0;
  int64_t h = 0;
  int64_t w = 0;
};

/// The shape of blocks (masking.block_*).
struct BlockOptions {
  int64_t min_patches = 16;  ///< least area of a block
  int64_t max_patches = 0;   ///< most patches one block may newly hide; 0 = no cap
  double min_aspect = 0.3;   ///< h / w in [min_aspect, 1 / min_aspect]
  /// From masking.block_min_patches, block_max_patches and block_min_aspect.
  static BlockOptions from_config(const config::MaskingConfig& config);
};

/// One sample's hidden patches and how they came to be.
struct BlockPlan {
  std::vector<bool> hidden;     ///< [grid * grid], row-major, exactly `target` true
  std::vector<Rect> blocks;     ///< accepted blocks in placing order, each hid new patches
  int64_t topped_up = 0;        ///< single patches hidden after the block phase
  int64_t failed_attempts = 0;  ///< attempts of the block phase that failed
};

/// The patches one sample hides: blocks as above, then the top-up to exactly `target`.
/// Throws std::invalid_argument when target is outside [0, grid * grid] or the options are
/// invalid (min_patches < 1, max_patches neither 0 nor >= min_patches, min_aspect outside
/// (0, 1]).
BlockPlan plan_blocks(Rng& rng, int64_t grid, int64_t target, const BlockOptions& options);

class BlockGenerator : public MaskGenerator {
 public:
  /// Reads masking.block_* and masking.dirichlet_alpha.
  BlockGenerator(MaskSpec spec, const config::MaskingConfig& config);
  std::string name() const override { return "block"; }
  torch::Tensor generate(const MaskInputs& inputs, uint64_t seed) const override;

 private:
  MaskSpec spec_;
  BlockOptions options_;
  double dirichlet_alpha_;
};

}  // namespace c2fmae::masking
