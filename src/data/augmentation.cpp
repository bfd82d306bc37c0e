#include "c2fmae/data/augmentation.h"

#include <algorithm>
#include <cmath>

#include "c2fmae/core/random.h"

namespace c2fmae::data {

Augmentation draw_augmentation(uint64_t seed, double width, double height,
                               const AugmentationOptions& options) {
  Augmentation aug;
  if (!options.enabled) {
    if (options.center_crop > 0.0) {
      const double side = options.center_crop * std::min(width, height);
      aug.box = {(width - side) / 2 / width, (height - side) / 2 / height, side / width,
                 side / height};
    }
    return aug;
  }
  Rng rng(seed);
  const double area = width * height;
  const double log_lo = std::log(options.ratio_min), log_hi = std::log(options.ratio_max);
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target = area * uniform(rng, options.scale_min, options.scale_max);
    const double ratio = std::exp(uniform(rng, log_lo, log_hi));
    const double w = std::sqrt(target * ratio), h = std::sqrt(target / ratio);
    if (w <= width && h <= height) {
      aug.box = {uniform01(rng) * (width - w) / width, uniform01(rng) * (height - h) / height,
                 w / width, h / height};
      found = true;
    }
  }
  if (!found) {  // centre crop, aspect ratio clamped into range
    const double in_ratio = width / height;
    double w = width, h = height;
    if (in_ratio < options.ratio_min)
      h = w / options.ratio_min;
    else if (in_ratio > options.ratio_max)
      w = h * options.ratio_max;
    aug.box = {(width - w) / 2 / width, (height - h) / 2 / height, w / width, h / height};
  }
  aug.flip = uniform01(rng) < options.hflip;
  return aug;
}

}  // namespace c2fmae::data
