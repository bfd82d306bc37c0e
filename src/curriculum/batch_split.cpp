#include "c2fmae/curriculum/batch_split.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "c2fmae/core/seeding.h"
#include "c2fmae/masking/budget_split.h"

namespace c2fmae::curriculum {

std::array<int64_t, 3> split_counts(const GeneratorWeights& weights, int64_t batch_size) {
  const auto w = weights.as_array();
  const double sum = w[0] + w[1] + w[2];
  std::array<int64_t, 3> count{};
  std::array<double, 3> frac{};
  int64_t given = 0;
  for (size_t i = 0; i < 3; ++i) {
    const double want = batch_size * w[i] / sum;
    count[i] = static_cast<int64_t>(std::floor(want));
    frac[i] = want - static_cast<double>(count[i]);
    given += count[i];
  }
  std::array<size_t, 3> order{0, 1, 2};
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return frac[a] > frac[b]; });
  for (size_t i = 0; given < batch_size; ++i, ++given) ++count[order[i % 3]];
  return count;
}

std::vector<int64_t> assign_generators(const GeneratorWeights& weights, int64_t batch_size,
                                       uint64_t seed, int64_t step) {
  const auto count = split_counts(weights, batch_size);
  std::vector<int64_t> assignment;
  assignment.reserve(batch_size);
  for (int64_t g = 0; g < 3; ++g) assignment.insert(assignment.end(), count[g], g);
  masking::MaskRng rng(mix_seed({seed, static_cast<uint64_t>(step), 0x5B11u}));
  masking::choose_uniform(rng, assignment, batch_size);  // full shuffle
  return assignment;
}

}  // namespace c2fmae::curriculum
