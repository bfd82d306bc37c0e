// Splitting a batch between the mask generators by the curriculum's weights: counts by
// largest-remainder rounding, samples assigned by a shuffle seeded from (seed, step), so the
// split is deterministic and a resumed run repeats it.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "c2fmae/curriculum/curriculum_schedule.h"

namespace c2fmae::curriculum {

/// Samples per generator (semantic, instance, random); sums to `batch_size`.
std::array<int64_t, 3> split_counts(const GeneratorWeights& weights, int64_t batch_size);

/// Generator index (0 semantic, 1 instance, 2 random) of every sample of the batch.
std::vector<int64_t> assign_generators(const GeneratorWeights& weights, int64_t batch_size,
                                       uint64_t seed, int64_t step);

}  // namespace c2fmae::curriculum
