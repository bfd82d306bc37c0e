#include "c2fmae/curriculum/batch_split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "c2fmae/core/seeding.h"
#include "c2fmae/masking/budget_split.h"

namespace c2fmae::curriculum {

std::array<int64_t, 3> split_counts(const GeneratorWeights& weights, int64_t batch_size,
                                    double offset) {
  if (!(offset >= 0.0 && offset < 1.0)) {
    throw std::invalid_argument("split_counts: offset must be in [0, 1), but got " +
                                std::to_string(offset));
  }
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
  // The points offset, offset + 1, ... (one per leftover sample) fall into the intervals
  // the fractional parts make on [0, leftover): each interval is shorter than 1, so it
  // catches at most one point, with probability equal to its length.
  const int64_t leftover = batch_size - given;
  auto points_below = [&](double x) {
    return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(x - offset)), 0, leftover);
  };
  double end = 0.0;
  int64_t before = 0;
  for (size_t i = 0; i < 3; ++i) {
    end = i == 2 ? static_cast<double>(leftover) : end + frac[i];
    const int64_t upto = points_below(end);
    count[i] += upto - before;
    before = upto;
  }
  return count;
}

std::vector<int64_t> assign_generators(const GeneratorWeights& weights, int64_t batch_size,
                                       uint64_t seed, int64_t step) {
  Rng rng(mix_seed({seed, static_cast<uint64_t>(step), 0x5B11u}));
  const double offset = uniform01(rng);
  const auto count = split_counts(weights, batch_size, offset);
  std::vector<int64_t> assignment;
  assignment.reserve(batch_size);
  for (int64_t g = 0; g < 3; ++g) assignment.insert(assignment.end(), count[g], g);
  masking::choose_uniform(rng, assignment, batch_size);  // full shuffle
  return assignment;
}

}  // namespace c2fmae::curriculum
