#include "c2fmae/core/random.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace c2fmae {

double uniform01(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }

double uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * uniform01(rng); }

int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {
  if (hi < lo) {
    throw std::invalid_argument("uniform_int: empty range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  }
  const uint64_t n = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (n == 0) return static_cast<int64_t>(rng());  // the whole 64-bit range
  // Outputs below 2^64 mod n would make small residues likelier: redraw them.
  const uint64_t threshold = (0 - n) % n;
  uint64_t x = rng();
  while (x < threshold) x = rng();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % n);
}

double standard_normal(Rng& rng) {
  double u, v, s;
  do {
    u = uniform(rng, -1.0, 1.0);
    v = uniform(rng, -1.0, 1.0);
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  return u * std::sqrt(-2.0 * std::log(s) / s);
}

double gamma(Rng& rng, double alpha) {
  if (!(alpha > 0.0)) throw std::invalid_argument("gamma: alpha must be > 0");
  if (alpha < 1.0) {
    const double u = 1.0 - uniform01(rng);  // (0, 1]
    return gamma(rng, alpha + 1.0) * std::pow(u, 1.0 / alpha);
  }
  const double d = alpha - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x, v;
    do {
      x = standard_normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - uniform01(rng);  // (0, 1]: log(u) is finite
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

void choose_uniform(Rng& rng, std::vector<int64_t>& candidates, int64_t count) {
  const auto n = static_cast<int64_t>(candidates.size());
  for (int64_t i = 0; i < count && i < n; ++i) {
    std::swap(candidates[i], candidates[uniform_int(rng, i, n - 1)]);
  }
}

}  // namespace c2fmae
