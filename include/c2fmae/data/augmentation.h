// The geometric augmentation shared by all three modalities of a sample (DESIGN.md §1):
// RandomResizedCrop (torchvision's parameters) + horizontal flip. Drawn once per sample from
// a seed, applied identically to RGB (bilinear) and both masks (nearest).
#pragma once
#include <cstdint>

namespace c2fmae::data {

/// A crop window in normalised source coordinates: [x0, x0 + w] x [y0, y0 + h] within [0, 1]^2.
struct CropBox {
  double x0 = 0.0;
  double y0 = 0.0;
  double w = 1.0;
  double h = 1.0;
};

struct Augmentation {
  CropBox box;
  bool flip = false;
};

struct AugmentationOptions {
  double scale_min = 0.2;  ///< smallest crop area / source area (MAE: 0.2)
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;  ///< aspect ratio range (torchvision default)
  double ratio_max = 4.0 / 3.0;
  double hflip = 0.5;   ///< flip probability
  bool enabled = true;  ///< false: no random crop, no flip (evaluation), see center_crop
  /// With enabled = false: the centred square whose side is this fraction of the source's
  /// shorter side (timm's crop_pct: resize the shorter side to img_size / crop_pct, then
  /// centre-crop img_size); 0: the whole source, squeezed to a square.
  double center_crop = 0.0;
};

/// Draws torchvision's RandomResizedCrop parameters for a source of width x height pixels
/// (10 tries, then a centre crop with the ratio clamped) and a flip, from `seed`.
Augmentation draw_augmentation(uint64_t seed, double width, double height,
                               const AugmentationOptions& options);

}  // namespace c2fmae::data
