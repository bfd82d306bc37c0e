#include "c2fmae/masking/evolved_generator.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "c2fmae/masking/affinity_hierarchy.h"
#include "c2fmae/masking/spatial_mask.h"

namespace c2fmae::masking {

EvolvedOptions EvolvedOptions::from_config(const config::MaskingConfig& config) {
  EvolvedOptions o;
  o.parts_start = config.evolved_parts_start;
  o.parts_end = config.evolved_parts_end;
  o.alpha_power = config.evolved_alpha_power;
  o.grid_cell = config.evolved_grid_cell;
  o.dirichlet_alpha = config.dirichlet_alpha;
  return o;
}

std::vector<bool> evolved_hidden(Rng& rng, const std::vector<int64_t>& groups, int64_t grid,
                                 int64_t grid_cell, double alpha, int64_t hide) {
  const auto l = static_cast<int64_t>(groups.size());
  const int64_t c = std::max<int64_t>(grid_cell, 1);
  std::vector<double> cell(static_cast<size_t>(c * c));
  for (auto& v : cell) v = uniform01(rng);
  const int64_t num_groups = *std::max_element(groups.begin(), groups.end()) + 1;
  std::vector<double> group_noise(static_cast<size_t>(num_groups));
  for (auto& v : group_noise) v = uniform01(rng);
  std::vector<double> noise(static_cast<size_t>(l)), tie(static_cast<size_t>(l));
  for (int64_t p = 0; p < l; ++p) {
    const int64_t r = p / grid, q = p % grid;
    noise[static_cast<size_t>(p)] =
        (1.0 - alpha) * cell[static_cast<size_t>((r % c) * c + q % c)] +
        alpha * group_noise[static_cast<size_t>(groups[static_cast<size_t>(p)])];
    tie[static_cast<size_t>(p)] = uniform01(rng);
  }
  std::vector<int64_t> order(static_cast<size_t>(l));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const auto ia = static_cast<size_t>(a), ib = static_cast<size_t>(b);
    return noise[ia] != noise[ib] ? noise[ia] < noise[ib] : tie[ia] < tie[ib];
  });
  std::vector<bool> hidden(static_cast<size_t>(l), false);
  // Lowest noise kept: the last `hide` of the order are hidden.
  for (int64_t k = l - std::clamp<int64_t>(hide, 0, l); k < l; ++k) {
    hidden[static_cast<size_t>(order[static_cast<size_t>(k)])] = true;
  }
  return hidden;
}

EvolvedGenerator::EvolvedGenerator(MaskSpec spec, EvolvedOptions options)
    : spec_(std::move(spec)), options_(options) {
  if (options_.parts_start < 1 || options_.parts_end < 1 || options_.grid_cell < 1 ||
      !(options_.alpha_power >= 0.0)) {
    throw std::invalid_argument("evolved generator: parts >= 1, grid_cell >= 1, alpha_power >= 0");
  }
}

void check_affinity(const MaskInputs& inputs, const MaskSpec& spec, const std::string& name) {
  const int64_t l = spec.num_patches();
  const auto& a = inputs.affinity;
  if (!a.defined() || a.dim() != 3 || a.size(0) != inputs.size() || a.size(1) != l ||
      a.size(2) != l) {
    throw std::invalid_argument(
        c10::str(name, " generator: needs the patch affinity [", inputs.size(), ", ", l, ", ", l,
                 "]", a.defined() ? c10::str(", got ", a.sizes()) : std::string(", got none"),
                 "\nhint: the pre-training engine computes it from its EMA encoder"));
  }
}

torch::Tensor EvolvedGenerator::generate(const MaskInputs& inputs, uint64_t seed) const {
  check_affinity(inputs, spec_, name());
  const int64_t b = inputs.size(), m = spec_.num_modalities(), l = spec_.num_patches();
  const int64_t hide = l - spatial_keep_count(spec_);
  const double t = std::clamp(inputs.progress, 0.0, 1.0);
  const double alpha = std::pow(t, options_.alpha_power);
  const int64_t level = scheduled_level(options_.parts_start, options_.parts_end, t, l);
  const auto affinity = inputs.affinity.to(torch::kCPU);
  auto mask = torch::ones({b, m, l}, torch::kBool);
  auto acc = mask.accessor<bool, 3>();
  for (int64_t i = 0; i < b; ++i) {
    Rng rng(inputs.sample_seed(seed, i));
    const AffinityHierarchy tree(affinity[i], spec_.grid);
    const auto hidden =
        evolved_hidden(rng, tree.level(level), spec_.grid, options_.grid_cell, alpha, hide);
    draw_visible(rng, spec_, options_.dirichlet_alpha, hidden, acc[i]);
  }
  return mask;
}

}  // namespace c2fmae::masking
