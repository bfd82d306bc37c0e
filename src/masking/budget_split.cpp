#include "c2fmae/masking/budget_split.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace c2fmae::masking {

std::vector<int64_t> split_budget(Rng& rng, double alpha, int64_t budget,
                                  const std::vector<int64_t>& capacity) {
  const size_t m = capacity.size();
  const int64_t total = std::accumulate(capacity.begin(), capacity.end(), int64_t{0});
  if (budget > total || budget < 0) {
    throw std::invalid_argument("split_budget: budget " + std::to_string(budget) +
                                " does not fit capacity " + std::to_string(total));
  }
  // Dirichlet(alpha) as normalised Gamma(alpha, 1) draws.
  std::vector<double> share(m);
  double sum = 0;
  for (size_t i = 0; i < m; ++i) sum += share[i] = capacity[i] > 0 ? gamma(rng, alpha) : 0.0;
  if (sum <= 0) {  // all draws underflowed: fall back to proportional to capacity
    for (size_t i = 0; i < m; ++i) share[i] = static_cast<double>(capacity[i]);
    sum = static_cast<double>(total);
  }
  std::vector<int64_t> count(m, 0);
  int64_t left = budget;
  // Give each modality its share, capped; repeat with the remainder over those not full.
  while (left > 0) {
    double open = 0;
    for (size_t i = 0; i < m; ++i) open += count[i] < capacity[i] ? share[i] : 0.0;
    if (open <= 0) {  // every modality with a share is full: fill the rest in order
      for (size_t i = 0; i < m && left > 0; ++i) {
        const int64_t add = std::min(left, capacity[i] - count[i]);
        count[i] += add, left -= add;
      }
      break;
    }
    std::vector<double> frac(m, -1.0);
    int64_t given = 0;
    for (size_t i = 0; i < m; ++i) {
      if (count[i] >= capacity[i]) continue;
      const double want = left * share[i] / open;
      const auto whole = std::min(static_cast<int64_t>(want), capacity[i] - count[i]);
      count[i] += whole, given += whole;
      frac[i] = count[i] < capacity[i] ? want - static_cast<double>(whole) : -1.0;
    }
    left -= given;
    // Largest remainders get one more token each.
    std::vector<size_t> order(m);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return frac[a] > frac[b]; });
    for (size_t i : order) {
      if (left == 0 || frac[i] < 0) break;
      ++count[i], --left;
    }
  }
  return count;
}

std::vector<int64_t> split_visible(Rng& rng, const MaskSpec& spec, double alpha, int64_t budget,
                                   const std::vector<int64_t>& capacity) {
  if (spec.rgb_only_prob > 0.0) {
    const auto rgb = std::find(spec.modalities.begin(), spec.modalities.end(), Modality::kRgb);
    if (rgb != spec.modalities.end() && uniform01(rng) < spec.rgb_only_prob) {
      const auto j = static_cast<size_t>(rgb - spec.modalities.begin());
      const int64_t on_rgb = std::min(budget, capacity[j]);
      auto others = capacity;
      others[j] = 0;
      auto count = on_rgb < budget ? split_budget(rng, alpha, budget - on_rgb, others)
                                   : std::vector<int64_t>(capacity.size(), 0);
      count[j] = on_rgb;
      return count;
    }
  }
  return split_budget(rng, alpha, budget, capacity);
}

}  // namespace c2fmae::masking
