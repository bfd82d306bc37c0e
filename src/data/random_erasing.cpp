#include "c2fmae/data/random_erasing.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "c2fmae/core/number_text.h"
#include "c2fmae/core/random.h"

namespace c2fmae::data {

void RandomErasingOptions::validate() const {
  auto fail = [](const std::string& what, double value) {
    throw std::invalid_argument("RandomErasingOptions: " + what + ", but got " +
                                shortest_text(value));
  };
  if (!(prob >= 0.0 && prob <= 1.0)) fail("prob must be in [0, 1]", prob);
  if (!(min_area > 0.0)) fail("min_area must be > 0", min_area);
  if (!(max_area >= min_area && max_area <= 1.0)) {
    fail("max_area must be in [min_area, 1]", max_area);
  }
  if (!(min_aspect > 0.0) || !std::isfinite(min_aspect)) fail("min_aspect must be > 0", min_aspect);
  if (min_count < 1) fail("min_count must be >= 1", static_cast<double>(min_count));
  if (max_count < min_count) {
    fail("max_count must be >= min_count", static_cast<double>(max_count));
  }
}

void random_erase(float* image, int64_t channels, int64_t height, int64_t width,
                  const RandomErasingOptions& options, uint64_t seed) {
  options.validate();
  if (channels < 0 || height < 0 || width < 0) {
    throw std::invalid_argument("random_erase: expected sizes >= 0, but got " +
                                std::to_string(channels) + "x" + std::to_string(height) + "x" +
                                std::to_string(width));
  }
  Rng rng(seed);
  if (uniform01(rng) > options.prob) return;
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(options.min_aspect), log_hi = std::log(1.0 / options.min_aspect);
  const int64_t count = options.min_count == options.max_count
                            ? options.min_count
                            : uniform_int(rng, options.min_count, options.max_count);
  for (int64_t box = 0; box < count; ++box) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = uniform(rng, options.min_area, options.max_area) * area / count;
      const double aspect = std::exp(uniform(rng, log_lo, log_hi));
      // int(round(x)): Python rounds ties to even, as nearbyint does by default.
      const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
      const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
      if (w < width && h < height) {
        const int64_t top = uniform_int(rng, 0, height - h);
        const int64_t left = uniform_int(rng, 0, width - w);
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t y = top; y < top + h; ++y) {
            float* row = image + (c * height + y) * width;
            for (int64_t x = left; x < left + w; ++x)
              row[x] = static_cast<float>(standard_normal(rng));
          }
        }
        break;
      }
    }
  }
}

}  // namespace c2fmae::data
