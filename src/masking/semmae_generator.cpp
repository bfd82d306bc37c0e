#include "c2fmae/masking/semmae_generator.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>

#include "c2fmae/masking/affinity_hierarchy.h"
#include "c2fmae/masking/evolved_generator.h"
#include "c2fmae/masking/patch_majority.h"
#include "c2fmae/masking/spatial_mask.h"

namespace c2fmae::masking {

double semmae_lambda(config::SemmaeSchedule schedule, double progress) {
  using S = config::SemmaeSchedule;
  const double t = std::clamp(progress, 0.0, 1.0);
  switch (schedule) {
    case S::kQuadratic:
      return 1.0 - t * t;
    case S::kLinear:
      return 1.0 - t;
    case S::kCosine:
      return 0.5 * (1.0 + std::cos(M_PI * t));
    case S::kIntra:
      return 1.0;
    case S::kInter:
      return 0.0;
  }
  return 1.0 - t * t;  // unreachable: every schedule is handled above
}

std::vector<bool> semmae_hidden(Rng& rng, const std::vector<int64_t>& parts, int64_t hide,
                                double lambda) {
  const auto l = static_cast<int64_t>(parts.size());
  hide = std::clamp<int64_t>(hide, 0, l);
  const double r = l > 0 ? static_cast<double>(hide) / static_cast<double>(l) : 0.0;
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t p = 0; p < l; ++p) members[parts[static_cast<size_t>(p)]].push_back(p);
  std::vector<int64_t> order(members.size());
  std::iota(order.begin(), order.end(), 0);
  choose_uniform(rng, order, static_cast<int64_t>(order.size()));  // the visiting order
  std::vector<std::vector<int64_t>*> by_index;
  for (auto& [id, patches] : members) by_index.push_back(&patches);
  std::vector<bool> hidden(static_cast<size_t>(l), false);
  int64_t before = 0, count = 0;
  for (const int64_t k : order) {
    auto& patches = *by_index[static_cast<size_t>(k)];
    const auto n = static_cast<int64_t>(patches.size());
    const double intra = std::nearbyint(r * static_cast<double>(n));
    const double inter = static_cast<double>(std::min(n, std::max<int64_t>(0, hide - before)));
    const auto m = std::clamp<int64_t>(
        static_cast<int64_t>(std::nearbyint(lambda * intra + (1.0 - lambda) * inter)), 0, n);
    choose_uniform(rng, patches, n);  // the part's patches in random order
    for (int64_t j = 0; j < m; ++j)
      hidden[static_cast<size_t>(patches[static_cast<size_t>(j)])] = true;
    before += n;
    count += m;
  }
  // The exact count.
  if (count != hide) {
    const bool add = count < hide;
    std::vector<int64_t> candidates;
    for (int64_t p = 0; p < l; ++p) {
      if (hidden[static_cast<size_t>(p)] != add) candidates.push_back(p);
    }
    const int64_t change = add ? hide - count : count - hide;
    choose_uniform(rng, candidates, change);
    for (int64_t j = 0; j < change; ++j)
      hidden[static_cast<size_t>(candidates[static_cast<size_t>(j)])] = add;
  }
  return hidden;
}

SemmaeGenerator::SemmaeGenerator(const MaskSpec& spec, const config::MaskingConfig& config)
    : spec_(spec),
      schedule_(config.semmae_schedule),
      attention_(config.semmae_parts == config::SemmaeParts::kAttention),
      num_parts_(config.semmae_num_parts),
      dirichlet_alpha_(config.dirichlet_alpha) {}

MaskNeeds SemmaeGenerator::needs() const {
  MaskNeeds n;
  n.affinity = attention_;
  n.label_maps = !attention_;
  return n;
}

torch::Tensor SemmaeGenerator::generate(const MaskInputs& inputs, uint64_t seed) const {
  const int64_t b = inputs.size(), m = spec_.num_modalities(), l = spec_.num_patches();
  const int64_t hide = l - spatial_keep_count(spec_);
  const double lambda = semmae_lambda(schedule_, inputs.progress);
  torch::Tensor regions, affinity;
  if (attention_) {
    check_affinity(inputs, spec_, name());
    affinity = inputs.affinity.to(torch::kCPU);
  } else {
    if (!inputs.batch.semantic.defined()) {
      throw std::invalid_argument(
          "semmae generator: masking.semmae_parts = semantic needs the batch's semantic map"
          "\nhint: use a dataset with semantic maps, or masking.semmae_parts: attention");
    }
    regions = patch_regions(inputs.batch.semantic, spec_.grid).contiguous();
  }
  auto mask = torch::ones({b, m, l}, torch::kBool);
  auto acc = mask.accessor<bool, 3>();
  for (int64_t i = 0; i < b; ++i) {
    Rng rng(inputs.sample_seed(seed, i));
    std::vector<int64_t> parts;
    if (attention_) {
      parts = AffinityHierarchy(affinity[i], spec_.grid).level(num_parts_);
    } else {
      const auto* row = regions.data_ptr<int64_t>() + i * l;
      parts.assign(row, row + l);
    }
    draw_visible(rng, spec_, dirichlet_alpha_, semmae_hidden(rng, parts, hide, lambda), acc[i]);
  }
  return mask;
}

}  // namespace c2fmae::masking
