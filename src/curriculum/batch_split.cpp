#include "c2fmae/curriculum/batch_split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "c2fmae/core/random.h"
#include "c2fmae/core/seeding.h"

namespace c2fmae::curriculum {

std::vector<int64_t> split_counts(const std::vector<double>& weights, int64_t batch_size,
                                  double offset) {
  if (!(offset >= 0.0 && offset < 1.0)) {
    throw std::invalid_argument("split_counts: offset must be in [0, 1), but got " +
                                std::to_string(offset));
  }
  const size_t n = weights.size();
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  if (n == 0 || !(sum > 0.0)) {
    throw std::invalid_argument("split_counts: needs weights with a positive sum");
  }
  std::vector<int64_t> count(n);
  std::vector<double> frac(n);
  int64_t given = 0;
  for (size_t i = 0; i < n; ++i) {
    const double want = batch_size * weights[i] / sum;
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
  for (size_t i = 0; i < n; ++i) {
    end = i + 1 == n ? static_cast<double>(leftover) : end + frac[i];
    const int64_t upto = points_below(end);
    count[i] += upto - before;
    before = upto;
  }
  return count;
}

std::vector<int64_t> assign_generators(const std::vector<double>& weights, int64_t batch_size,
                                       uint64_t seed, int64_t step) {
  Rng rng(mix_seed({seed, static_cast<uint64_t>(step), 0x5B11u}));
  const double offset = uniform01(rng);
  const auto count = split_counts(weights, batch_size, offset);
  std::vector<int64_t> assignment;
  assignment.reserve(batch_size);
  for (size_t g = 0; g < count.size(); ++g) {
    assignment.insert(assignment.end(), count[g], static_cast<int64_t>(g));
  }
  choose_uniform(rng, assignment, batch_size);  // full shuffle
  return assignment;
}

}  // namespace c2fmae::curriculum
