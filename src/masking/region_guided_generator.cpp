#include "c2fmae/masking/region_guided_generator.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "c2fmae/core/mask.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/masking/budget_split.h"
#include "c2fmae/masking/patch_majority.h"

namespace c2fmae::masking {
namespace {

// Slack for products such as 0.07 * 100 = 7.000000000000001 that must count as whole.
constexpr double kRoundingSlack = 1e-9;

/// Gives the anchor a visible token in a hide-in modality and returns that modality: one
/// drawn in proportion to the tokens the hide-in modalities got; if they got none, one token
/// moves to a random hide-in modality from the fullest other one (the total stays exact).
int64_t place_anchor(Rng& rng, std::vector<int64_t>& counts, const std::vector<bool>& hides) {
  const auto m = static_cast<int64_t>(counts.size());
  int64_t in_hides = 0;
  for (int64_t j = 0; j < m; ++j) in_hides += hides[j] ? counts[j] : 0;
  if (in_hides == 0) {
    int64_t donor = -1;
    std::vector<int64_t> takers;
    for (int64_t j = 0; j < m; ++j) {
      if (hides[j]) {
        takers.push_back(j);
      } else if (donor < 0 || counts[j] > counts[donor]) {
        donor = j;
      }
    }
    TORCH_CHECK(donor >= 0 && counts[donor] > 0 && !takers.empty(),
                "region-guided masking: no token to give the anchor");
    const int64_t taker = takers[uniform_int(rng, 0, static_cast<int64_t>(takers.size()) - 1)];
    --counts[donor], ++counts[taker];
    return taker;
  }
  int64_t r = uniform_int(rng, 0, in_hides - 1);
  for (int64_t j = 0; j < m; ++j) {
    if (!hides[j]) continue;
    if (r < counts[j]) return j;
    r -= counts[j];
  }
  return -1;  // unreachable: r < in_hides
}

}  // namespace

RegionGuidedOptions RegionGuidedOptions::from_config(const config::MaskingConfig& config,
                                                     double hide_ratio) {
  RegionGuidedOptions o;
  o.hide_ratio = hide_ratio;
  o.dirichlet_alpha = config.dirichlet_alpha;
  o.max_region_share = config.guided_max_region_share;
  o.hide_in = config.guided_hide_in;
  return o;
}

HidingPlan plan_hiding(Rng& rng, const std::vector<int64_t>& labels,
                       const std::vector<bool>& in_region, int64_t target, int64_t keep_min,
                       double max_region_share, bool anchor) {
  TORCH_CHECK(labels.size() == in_region.size(), "plan_hiding: ", labels.size(), " labels but ",
              in_region.size(), " region flags");
  const auto l = static_cast<int64_t>(labels.size());
  HidingPlan plan;
  plan.hidden.assign(l, false);
  std::map<int64_t, std::vector<int64_t>> regions;  // ordered: the shuffle alone is random
  for (int64_t k = 0; k < l; ++k) {
    if (in_region[k]) regions[labels[k]].push_back(k);
  }
  const auto n = static_cast<int64_t>(regions.size());
  plan.num_regions = n;
  const bool with_anchor = anchor && n >= 2;
  const int64_t limit =
      std::max<int64_t>(0, std::min(target, l - std::max<int64_t>(keep_min, with_anchor)));
  int64_t cap =
      std::max<int64_t>(1, static_cast<int64_t>(std::floor(max_region_share * n + kRoundingSlack)));
  if (n >= 2) cap = std::min(cap, n - 1);

  // 1. Whole regions that fit, in random order.
  std::vector<int64_t> order;
  for (const auto& r : regions) order.push_back(r.first);
  choose_uniform(rng, order, n);  // full shuffle
  int64_t count = 0;
  std::vector<int64_t> kept;  // regions not hidden whole, in visiting order
  for (int64_t label : order) {
    const auto& patches = regions[label];
    const auto size = static_cast<int64_t>(patches.size());
    if (plan.whole_regions < cap && count + size <= limit) {
      for (int64_t p : patches) plan.hidden[p] = true;
      count += size;
      ++plan.whole_regions;
    } else {
      kept.push_back(label);
    }
  }
  // 2. The anchor: a patch of a region not hidden whole (the cap leaves one).
  if (with_anchor) {
    const auto& patches = regions[kept[uniform_int(rng, 0, static_cast<int64_t>(kept.size()) - 1)]];
    plan.anchor = patches[uniform_int(rng, 0, static_cast<int64_t>(patches.size()) - 1)];
  }
  // 3. Top-up with random patches to exactly `limit`.
  std::vector<int64_t> open;
  for (int64_t k = 0; k < l; ++k) {
    if (!plan.hidden[k] && k != plan.anchor) open.push_back(k);
  }
  const int64_t more = limit - count;
  choose_uniform(rng, open, more);
  for (int64_t k = 0; k < more; ++k) plan.hidden[open[k]] = true;
  return plan;
}

RegionGuidedGenerator::RegionGuidedGenerator(MaskSpec spec, Modality guide,
                                             RegionGuidedOptions options)
    : spec_(std::move(spec)), guide_(guide), options_(options) {
  const auto& o = options_;
  if (!(o.hide_ratio >= 0.0 && o.hide_ratio <= 1.0) || !(o.dirichlet_alpha > 0.0) ||
      !(o.max_region_share > 0.0 && o.max_region_share <= 1.0)) {
    throw std::invalid_argument(
        "region-guided masking: hide_ratio " + std::to_string(o.hide_ratio) + ", alpha " +
        std::to_string(o.dirichlet_alpha) + ", max_region_share " +
        std::to_string(o.max_region_share) +
        " out of range\nhint: hide_ratio in [0, 1], alpha > 0, max_region_share in (0, 1]");
  }
  for (Modality m : spec_.modalities) {
    hides_.push_back(o.hide_in == GuidedHideIn::kAll ||
                     static_cast<int64_t>(m) >= static_cast<int64_t>(guide_));
  }
}

torch::Tensor RegionGuidedGenerator::generate(const MaskInputs& inputs, uint64_t seed) const {
  const auto& map = region_map(inputs.batch);
  TORCH_CHECK(map.defined(), name(), " masking needs the batch's ", modality_name(guide_),
              " map [B, H, W]");
  auto labels = patch_regions(map, spec_.grid).contiguous();  // [B, L]
  const int64_t b = labels.size(0), m = spec_.num_modalities(), l = spec_.num_patches();
  const int64_t budget = spec_.num_visible;
  TORCH_CHECK(budget >= 0 && budget <= m * l, name(), " masking: ", budget,
              " visible tokens do not fit ", m, " x ", l);
  auto mask = torch::ones({b, m, l}, torch::kBool);
  auto acc = mask.accessor<bool, 3>();
  auto lab = labels.accessor<int64_t, 2>();
  // Hidden patches are out of the hide-in modalities only, so the patches left unhidden
  // must hold what the other modalities (all L patches each) cannot: keep_min per sample.
  const auto hiding = static_cast<int64_t>(std::count(hides_.begin(), hides_.end(), true));
  const int64_t rest = budget - (m - hiding) * l;
  const int64_t keep_min = hiding == 0 ? l : std::max<int64_t>(0, (rest + hiding - 1) / hiding);
  const auto target = static_cast<int64_t>(
      std::ceil(options_.hide_ratio * static_cast<double>(l) - kRoundingSlack));
  for (int64_t i = 0; i < b; ++i) {
    Rng rng(inputs.sample_seed(seed, i));
    std::vector<int64_t> row(l);
    std::vector<bool> in_region(l);
    for (int64_t k = 0; k < l; ++k) row[k] = lab[i][k], in_region[k] = is_region(row[k]);
    const auto plan = plan_hiding(rng, row, in_region, target, keep_min, options_.max_region_share,
                                  hiding > 0 && budget > 0);
    const auto open =
        l - static_cast<int64_t>(std::count(plan.hidden.begin(), plan.hidden.end(), true));
    std::vector<int64_t> capacity(m);
    for (int64_t j = 0; j < m; ++j) capacity[j] = hides_[j] ? open : l;
    auto counts = split_visible(rng, spec_, options_.dirichlet_alpha, budget, capacity);
    const int64_t anchor_in = plan.anchor >= 0 ? place_anchor(rng, counts, hides_) : -1;
    for (int64_t j = 0; j < m; ++j) {
      int64_t draw = counts[j];
      if (j == anchor_in) acc[i][j][plan.anchor] = kVisible, --draw;
      std::vector<int64_t> patches;
      for (int64_t k = 0; k < l; ++k) {
        if ((!hides_[j] || !plan.hidden[k]) && !(j == anchor_in && k == plan.anchor)) {
          patches.push_back(k);
        }
      }
      choose_uniform(rng, patches, draw);
      for (int64_t k = 0; k < draw; ++k) acc[i][j][patches[k]] = kVisible;
    }
  }
  return mask;
}

}  // namespace c2fmae::masking
