// Random erasing as MAE fine-tunes with it (main_finetune.py: timm's create_transform with
// re_prob=0.25, re_mode='pixel', re_count=1): after ToTensor + Normalize, boxes of the
// normalised image are replaced by standard-normal noise. Follows timm/data/random_erasing.py
// (RandomErasing._erase, after Zhong et al. 2017, https://arxiv.org/abs/1708.04896) step for
// step, with our fixed-algorithm draws (core/random.h) in place of Python's `random` and
// torch's normal_. Only timm's 'pixel' mode is provided. Torch-free, so it runs on loader
// threads.
#pragma once
#include <cstdint>

namespace c2fmae::data {

struct RandomErasingOptions {
  double prob = 0.25;                    ///< probability that an image is erased at all
  double min_area = 0.02;                ///< smallest box area / image area
  double max_area = 1.0 / 3.0;           ///< largest box area / image area
  double min_aspect = 0.3;               ///< box height / width in [min_aspect, 1 / min_aspect]
  int64_t min_count = 1, max_count = 1;  ///< boxes per erased image, uniform in this range

  /// Throws std::invalid_argument naming the field: prob in [0, 1], 0 < min_area <= max_area <= 1,
  /// min_aspect > 0, 1 <= min_count <= max_count.
  void validate() const;
};

/// timm's RandomErasing._erase on image [channels, height, width] (planar float, already
/// normalised), in place, from `seed` alone. With probability prob, draws count boxes
/// (uniform in [min_count, max_count]); for each, up to 10 attempts of area
/// uniform(min_area, max_area) * H * W / count and aspect exp(uniform(log(min_aspect),
/// -log(min_aspect))), h = round(sqrt(area * aspect)), w = round(sqrt(area / aspect)) (Python's
/// round, ties to even); the first attempt with h < H and w < W places the box at a uniform
/// top-left in [0, H - h] x [0, W - w] and fills it with one standard-normal value per channel
/// and pixel (channel, then row, then column), as timm's mode 'pixel'. A box whose 10 attempts
/// all fail is skipped. Box sides are rounded, so its area fraction and aspect can exceed the
/// bounds by that rounding (half a pixel per side).
void random_erase(float* image, int64_t channels, int64_t height, int64_t width,
                  const RandomErasingOptions& options, uint64_t seed);

}  // namespace c2fmae::data
