#include "c2fmae/masking/region_guided_generator.h"

#include <torch/torch.h>

#include <map>

#include "c2fmae/core/mask.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/masking/patch_majority.h"

namespace c2fmae::masking {

std::vector<bool> hide_regions(Rng& rng, const std::vector<int64_t>& labels,
                               const std::vector<bool>& hideable_label, int64_t target,
                               int64_t keep_min) {
  const auto l = static_cast<int64_t>(labels.size());
  std::map<int64_t, std::vector<int64_t>> regions;  // ordered: the shuffle alone is random
  for (int64_t i = 0; i < l; ++i) {
    if (hideable_label[i]) regions[labels[i]].push_back(i);
  }
  std::vector<int64_t> order;
  for (const auto& r : regions) order.push_back(r.first);
  choose_uniform(rng, order, static_cast<int64_t>(order.size()));  // full shuffle
  std::vector<bool> hidden(l, false);
  int64_t count = 0;
  for (int64_t label : order) {
    if (count >= target) break;
    const auto& patches = regions[label];
    const auto size = static_cast<int64_t>(patches.size());
    if (l - count - size < keep_min) continue;
    for (int64_t p : patches) hidden[p] = true;
    count += size;
  }
  return hidden;
}

RegionGuidedGenerator::RegionGuidedGenerator(MaskSpec spec, double hide_ratio,
                                             double dirichlet_alpha)
    : spec_(std::move(spec)), hide_ratio_(hide_ratio), alpha_(dirichlet_alpha) {}

torch::Tensor RegionGuidedGenerator::generate(const MaskInputs& inputs, uint64_t seed) const {
  const auto& map = region_map(inputs.batch);
  TORCH_CHECK(map.defined() && map.dim() == 3, name(),
              " masking needs the batch's per-pixel map [B, H, W]");
  auto labels = patch_majority(map.cpu(), map.size(2) / spec_.grid).contiguous();  // [B, L]
  const int64_t b = labels.size(0), m = spec_.num_modalities(), l = spec_.num_patches();
  TORCH_CHECK(labels.size(1) == l, name(), " masking: the map gives ", labels.size(1),
              " patches, expected ", l);
  auto mask = torch::ones({b, m, l}, torch::kBool);
  auto acc = mask.accessor<bool, 3>();
  auto lab = labels.accessor<int64_t, 2>();
  // Patches left unhidden must hold the budget: keep_min patches x M modalities.
  const int64_t keep_min = (spec_.num_visible + m - 1) / m;
  const auto target = static_cast<int64_t>(std::ceil(hide_ratio_ * static_cast<double>(l)));
  for (int64_t i = 0; i < b; ++i) {
    Rng rng(mix_seed({seed, static_cast<uint64_t>(i)}));
    std::vector<int64_t> row(l);
    std::vector<bool> can_hide(l);
    for (int64_t k = 0; k < l; ++k) row[k] = lab[i][k], can_hide[k] = hideable(row[k]);
    const auto hidden = hide_regions(rng, row, can_hide, target, keep_min);
    std::vector<int64_t> open;
    for (int64_t k = 0; k < l; ++k) {
      if (!hidden[k]) open.push_back(k);
    }
    const std::vector<int64_t> capacity(m, static_cast<int64_t>(open.size()));
    const auto counts = split_budget(rng, alpha_, spec_.num_visible, capacity);
    for (int64_t j = 0; j < m; ++j) {
      auto patches = open;
      choose_uniform(rng, patches, counts[j]);
      for (int64_t k = 0; k < counts[j]; ++k) acc[i][j][patches[k]] = kVisible;
    }
  }
  return mask;
}

}  // namespace c2fmae::masking
