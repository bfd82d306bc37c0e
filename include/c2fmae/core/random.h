// Random draws with fixed algorithms. The engine std::mt19937_64 is fully specified by the
// C++ standard, but std::*_distribution are not: libstdc++, libc++ and MSVC (or two versions
// of one) may turn the same engine output into other numbers. Data order, crops, synthetic
// images and masks use these instead, so a seed gives the same run on any machine and a
// run resumed elsewhere replays exactly.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace c2fmae {

/// The engine behind every draw (fixed by the standard).
using Rng = std::mt19937_64;

/// Uniform in [0, 1), from the top 53 bits of one engine output.
double uniform01(Rng& rng);
/// Uniform in [lo, hi).
double uniform(Rng& rng, double lo, double hi);
/// Uniform integer in [lo, hi] (inclusive), without modulo bias (rejection).
int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi);
/// Standard normal (Marsaglia's polar method; one value per call).
double standard_normal(Rng& rng);
/// Gamma(alpha, 1) for alpha > 0 (Marsaglia & Tsang 2000; alpha < 1 by their boost
/// Gamma(alpha + 1) * U^(1 / alpha)).
double gamma(Rng& rng, double alpha);
/// Moves `count` distinct elements of `candidates`, drawn uniformly, to the front (a partial
/// Fisher-Yates shuffle; count = size shuffles them all).
void choose_uniform(Rng& rng, std::vector<int64_t>& candidates, int64_t count);

}  // namespace c2fmae
