// Splitting a batch between the mask generators by the curriculum's weights. Each generator
// gets the floor or the ceiling of its share batch_size * w; which ones get the ceiling is
// drawn by systematic sampling, so that generator g gets it with probability equal to the
// fractional part of its share. Unlike largest-remainder rounding, that is unbiased: with
// weights (0.3, 0.3, 0.4) and batch 8, the mean counts are 2.4, 2.4 and 3.2 rather than a
// fixed 3, 2, 3 every step, and a weight below 1 / (2 * batch) is still sampled. The
// offset and the shuffle of the samples are seeded from (seed, step): a resumed run
// repeats the split.
#pragma once
#include <cstdint>
#include <vector>

namespace c2fmae::curriculum {

/// Samples per generator, one count per weight (weights >= 0, sum > 0); the counts sum to
/// `batch_size`. `offset` in [0, 1) places the systematic sample: drawn uniformly, it makes
/// every count's expectation batch_size * w / sum(w) exactly.
std::vector<int64_t> split_counts(const std::vector<double>& weights, int64_t batch_size,
                                  double offset);

/// Generator index (position in `weights`) of every sample of the batch.
std::vector<int64_t> assign_generators(const std::vector<double>& weights, int64_t batch_size,
                                       uint64_t seed, int64_t step);

}  // namespace c2fmae::curriculum
