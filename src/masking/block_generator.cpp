#include "c2fmae/masking/block_generator.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "c2fmae/masking/spatial_mask.h"

namespace c2fmae::masking {
namespace {

void check_options(const BlockOptions& o) {
  if (o.min_patches < 1 || (o.max_patches != 0 && o.max_patches < o.min_patches) ||
      !(o.min_aspect >= 0.01 && o.min_aspect <= 1.0)) {
    throw std::invalid_argument(
        c10::str("block generator: invalid options min_patches = ", o.min_patches,
                 ", max_patches = ", o.max_patches, ", min_aspect = ", o.min_aspect,
                 "\nhint: masking.block_min_patches >= 1, block_max_patches 0 or >= it, "
                 "block_min_aspect in [0.01, 1]"));
  }
}

/// Rounded h / w within [min_aspect, 1 / min_aspect] (symmetric: min / max >= min_aspect).
bool aspect_ok(int64_t h, int64_t w, double min_aspect) {
  const auto lo = static_cast<double>(std::min(h, w)), hi = static_cast<double>(std::max(h, w));
  return lo >= min_aspect * hi * (1.0 - 1e-12);
}

}  // namespace

BlockOptions BlockOptions::from_config(const config::MaskingConfig& config) {
  BlockOptions o;
  o.min_patches = config.block_min_patches;
  o.max_patches = config.block_max_patches;
  o.min_aspect = config.block_min_aspect;
  return o;
}

BlockPlan plan_blocks(Rng& rng, int64_t grid, int64_t target, const BlockOptions& options) {
  check_options(options);
  const int64_t l = grid * grid;
  if (grid < 1 || target < 0 || target > l) {
    throw std::invalid_argument(
        c10::str("block generator: cannot hide ", target, " of ", l, " patches"));
  }
  BlockPlan plan;
  plan.hidden.assign(static_cast<size_t>(l), false);
  auto index = [grid](int64_t r, int64_t c) { return static_cast<size_t>(r * grid + c); };
  const double log_aspect = std::log(options.min_aspect);
  int64_t count = 0;
  // BEiT's __call__ / _mask: each iteration is one attempt; a call of BEiT ends at its first
  // accepted block or after 10 failures, and the next call draws the same way, so the calls
  // are one run of attempts here (header: we do not stop at a failed call).
  while (target - count > 0 && plan.failed_attempts < kBlockMaxFailedAttempts) {
    const int64_t remaining = target - count;
    const int64_t cap =
        options.max_patches > 0 ? std::min(remaining, options.max_patches) : remaining;
    // As Python's random.uniform(min, cap), also when cap < min (a block that must overlap
    // earlier ones to add at most cap patches).
    const double area =
        uniform(rng, static_cast<double>(options.min_patches), static_cast<double>(cap));
    const double aspect = std::exp(uniform(rng, log_aspect, -log_aspect));
    // Python's round: half to even (the default rounding mode of nearbyint).
    // Clamped before the conversion: an extreme aspect must not overflow int64 (it then
    // fails the fit check below, as any block wider than the grid).
    const double big = static_cast<double>(grid) + 1.0;
    const auto h = static_cast<int64_t>(std::nearbyint(std::min(std::sqrt(area * aspect), big)));
    const auto w = static_cast<int64_t>(std::nearbyint(std::min(std::sqrt(area / aspect), big)));
    int64_t fresh = 0;
    if (h < grid && w < grid) {
      const int64_t top = uniform_int(rng, 0, grid - h), left = uniform_int(rng, 0, grid - w);
      // Ours: BEiT would place a block whose rounding left min_patches or the aspect range.
      if (h >= 1 && w >= 1 && h * w >= options.min_patches && aspect_ok(h, w, options.min_aspect)) {
        for (int64_t r = top; r < top + h; ++r) {
          for (int64_t c = left; c < left + w; ++c) fresh += plan.hidden[index(r, c)] ? 0 : 1;
        }
        if (fresh > 0 && fresh <= cap) {
          for (int64_t r = top; r < top + h; ++r) {
            for (int64_t c = left; c < left + w; ++c) plan.hidden[index(r, c)] = true;
          }
          plan.blocks.push_back({top, left, h, w});
          count += fresh;
        } else {
          fresh = 0;
        }
      }
    }
    if (fresh == 0) ++plan.failed_attempts;
  }
  // Ours: the exact count, with uniformly drawn single patches.
  plan.topped_up = target - count;
  if (plan.topped_up > 0) {
    std::vector<int64_t> open;
    for (int64_t k = 0; k < l; ++k) {
      if (!plan.hidden[static_cast<size_t>(k)]) open.push_back(k);
    }
    choose_uniform(rng, open, plan.topped_up);
    for (int64_t k = 0; k < plan.topped_up; ++k) {
      plan.hidden[static_cast<size_t>(open[static_cast<size_t>(k)])] = true;
    }
  }
  return plan;
}

BlockGenerator::BlockGenerator(MaskSpec spec, const config::MaskingConfig& config)
    : spec_(std::move(spec)),
      options_(BlockOptions::from_config(config)),
      dirichlet_alpha_(config.dirichlet_alpha) {
  check_options(options_);
}

torch::Tensor BlockGenerator::generate(const MaskInputs& inputs, uint64_t seed) const {
  const int64_t b = inputs.size(), m = spec_.num_modalities(), l = spec_.num_patches();
  // When num_visible exceeds M * L there is nothing to hide; draw_visible reports it.
  const int64_t target = std::max<int64_t>(0, l - spatial_keep_count(spec_));
  auto mask = torch::ones({b, m, l}, torch::kBool);
  auto acc = mask.accessor<bool, 3>();
  for (int64_t i = 0; i < b; ++i) {
    Rng rng(inputs.sample_seed(seed, i));
    const auto plan = plan_blocks(rng, spec_.grid, target, options_);
    draw_visible(rng, spec_, dirichlet_alpha_, plan.hidden, acc[i]);
  }
  return mask;
}

}  // namespace c2fmae::masking
