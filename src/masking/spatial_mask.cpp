#include "c2fmae/masking/spatial_mask.h"

#include <torch/torch.h>

#include <stdexcept>

#include "c2fmae/core/mask.h"
#include "c2fmae/masking/budget_split.h"

namespace c2fmae::masking {

int64_t spatial_keep_count(const MaskSpec& spec) {
  const int64_t m = spec.num_modalities();
  return (spec.num_visible + m - 1) / m;
}

void draw_visible(Rng& rng, const MaskSpec& spec, double dirichlet_alpha,
                  const std::vector<bool>& hidden, torch::TensorAccessor<bool, 2> sample_mask) {
  const int64_t m = spec.num_modalities(), l = spec.num_patches();
  std::vector<int64_t> open;
  for (int64_t k = 0; k < l; ++k) {
    if (!hidden[static_cast<size_t>(k)]) open.push_back(k);
  }
  const auto n = static_cast<int64_t>(open.size());
  if (n < spatial_keep_count(spec)) {
    throw std::invalid_argument(c10::str("spatial mask: ", n, " patches left unhidden, ",
                                         spatial_keep_count(spec), " needed"));
  }
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t k = 0; k < l; ++k) sample_mask[j][k] = kMasked;
  }
  const std::vector<int64_t> capacity(static_cast<size_t>(m), n);
  const auto counts = m == 1
                          ? std::vector<int64_t>{spec.num_visible}
                          : split_visible(rng, spec, dirichlet_alpha, spec.num_visible, capacity);
  for (int64_t j = 0; j < m; ++j) {
    auto patches = open;
    const int64_t c = counts[static_cast<size_t>(j)];
    if (c < n) choose_uniform(rng, patches, c);
    for (int64_t k = 0; k < c; ++k) sample_mask[j][patches[static_cast<size_t>(k)]] = kVisible;
  }
}

}  // namespace c2fmae::masking
