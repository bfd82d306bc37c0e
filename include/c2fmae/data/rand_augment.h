// RandAugment as MAE fine-tunes with it (main_finetune.py: timm's create_transform with
// auto_augment='rand-m9-mstd0.5-inc1', interpolation='bicubic'): after RandomResizedCrop + flip,
// on the uint8 image, before ToTensor + Normalize. Follows timm/data/auto_augment.py
// (rand_augment_transform, RandAugment, AugmentOp, the *_level_to_arg functions) and, op by
// op, the arithmetic of Pillow's uint8 results (ImageOps, ImageEnhance, Image.rotate /
// Image.transform; libImaging Convert.c, Blend.c, Filter.c, Geometry.c), with our
// fixed-algorithm draws (core/random.h) in place of Python's `random` and numpy's.
// Torch-free, so it runs on loader threads.
//
// Image convention: [3, height, width] planar float holding integers 0..255 (a uint8 RGB
// image); inputs are rounded and clamped to that first, and every op leaves integers 0..255.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace c2fmae::data {

/// Resampling of the affine ops (rotate, shear, translate), PIL's filters exactly.
enum class RandAugmentInterpolation {
  kBilinear,
  kBicubic,  ///< PIL's cubic convolution with a = -1 (Geometry.c's BICUBIC)
  kRandom,   ///< timm's default: bilinear or bicubic drawn per op (not an apply_op argument)
};

struct RandAugmentOptions {
  int64_t num_ops = 2;         ///< n: ops drawn per image, with replacement
  double magnitude = 9;        ///< m, on timm's 0..10 scale (_LEVEL_DENOM = 10)
  double magnitude_std = 0.5;  ///< mstd: Gaussian noise on m per op; 0 fixed; inf uniform [0, m]
  double magnitude_max = 10;   ///< mmax: the noisy magnitude is clipped to [0, mmax]
  double prob = 0.5;           ///< p: each drawn op is applied with this probability
  bool increasing = true;      ///< inc1: the op set whose severity grows with m
  float fill[3] = {124, 116, 104};  ///< timm's img_mean: round(255 * ImageNet mean)
  /// MAE passes interpolation='bicubic', which timm's create_transform forwards as the affine
  /// ops' resampling (aa_params['interpolation']); kRandom is timm's default otherwise.
  RandAugmentInterpolation interpolation = RandAugmentInterpolation::kBicubic;

  /// Throws std::invalid_argument naming the field: num_ops >= 0, magnitude >= 0,
  /// magnitude_std >= 0 (inf allowed), magnitude_max > 0, prob in [0, 1], fill in [0, 255].
  void validate() const;
};

/// timm's config string: "rand" then dash-separated keys in any order: m<int> magnitude,
/// n<int> num_ops, p<float> prob, mstd<float> (> 100 means uniform, as timm), mmax<int>,
/// inc<0|1> (timm reads any inc value as true; here inc0 means false, as intended).
/// E.g. "rand-m9-mstd0.5-inc1". "" or "none" -> nullopt (RandAugment off). Keys not given take
/// timm's defaults (m10, n2, p0.5, mstd0, mmax10, inc0), not this struct's; fill and
/// interpolation keep the struct's.
/// Throws std::invalid_argument naming the bad part (unknown key, missing or malformed value,
/// 't' transform sets, which are not provided).
std::optional<RandAugmentOptions> parse_rand_augment(const std::string& spec);

/// The ops of timm's _RAND_TRANSFORMS / _RAND_INCREASING_TRANSFORMS, in timm's order (the
/// index is what is drawn). With `increasing`, Posterize, Solarize and the four enhance ops
/// use timm's *Increasing level functions.
enum class RandAugmentOp {
  kAutoContrast,
  kEqualize,
  kInvert,
  kRotate,
  kPosterize,
  kSolarize,
  kSolarizeAdd,
  kColor,
  kContrast,
  kBrightness,
  kSharpness,
  kShearX,
  kShearY,
  kTranslateXRel,
  kTranslateYRel,
};
constexpr int64_t kNumRandAugmentOps = 15;

/// timm's name of the op ("AutoContrast", ..., "TranslateYRel"; the increasing set adds the
/// suffix "Increasing" to Posterize, Solarize, Color, Contrast, Brightness, Sharpness).
std::string rand_augment_op_name(RandAugmentOp op, bool increasing);

/// timm's level function: the (already clipped) magnitude -> the op's argument, with
/// _randomly_negate's outcome given as `negate` (used by Rotate, Shear*, Translate*, and the
/// increasing enhance ops). Arguments, as apply_op takes them:
///   Rotate: degrees counter-clockwise, m / 10 * 30;
///   Posterize: bits kept, int(m / 10 * 4) (increasing: 4 minus that);
///   Solarize: threshold, min(256, int(m / 10 * 256)) (increasing: 256 minus that);
///   SolarizeAdd: amount added below 128, min(128, int(m / 10 * 110));
///   Color/Contrast/Brightness/Sharpness: enhance factor, m / 10 * 1.8 + 0.1
///     (increasing: max(0.1, 1 +- m / 10 * 0.9));
///   ShearX/Y: shear factor, m / 10 * 0.3; TranslateX/YRel: fraction of the size, m / 10 * 0.45;
///   AutoContrast, Equalize, Invert: none (0).
double rand_augment_op_argument(RandAugmentOp op, double magnitude, bool increasing, bool negate);

/// Applies one op to image [3, height, width] (see the file comment) in place. `argument` as
/// rand_augment_op_argument gives it; `fill` is the colour of pixels that the affine ops map
/// from outside the source; `interpolation` (kBilinear or kBicubic) resamples the affine ops.
/// Matches PIL's uint8 result (ImageOps.autocontrast / equalize / invert / posterize /
/// solarize, timm's solarize_add, ImageEnhance.*.enhance, Image.rotate / transform(AFFINE)):
/// the enhance ops reproduce PIL's float32 blend and 3x3 SMOOTH filter operation by
/// operation; the affine ops use PIL's inverse mapping through pixel centres, its border
/// rule (a pixel whose source point lies outside [0, w) x [0, h) takes `fill`; sampling near
/// the border clamps to the edge), its filters and truncation to uint8. Rotate builds PIL's
/// matrix (cos/sin rounded to 15 decimals, centre (w/2, h/2)), which at multiples of 90
/// degrees gives the same pixels as PIL's transpose shortcut. Posterize to <= 0 bits (timm's
/// PosterizeIncreasing at m = 10) gives 0, as PIL's mask did; Pillow 13 rejects it instead.
/// Throws std::invalid_argument for a non-finite argument, or kRandom with an affine op.
void apply_rand_augment_op(RandAugmentOp op, float* image, int64_t height, int64_t width,
                           double argument, const float fill[3],
                           RandAugmentInterpolation interpolation);

/// One op that a draw applies: which, its argument and the resampling of affine ops.
struct RandAugmentStep {
  RandAugmentOp op = RandAugmentOp::kAutoContrast;
  double argument = 0.0;
  RandAugmentInterpolation interpolation = RandAugmentInterpolation::kBicubic;
};

/// timm's RandAugment.__call__ draws from `seed`: num_ops ops uniformly with replacement,
/// then per op in order: skip it with probability 1 - prob; magnitude m + mstd * N(0, 1)
/// (uniform [0, m] for mstd = inf) clipped to [0, magnitude_max]; the 50% sign flip of the
/// level function; and, for affine ops under kRandom, bilinear or bicubic with equal odds.
/// Returns the applied ops in order (skipped ones left out).
std::vector<RandAugmentStep> draw_rand_augment(const RandAugmentOptions& options, uint64_t seed);

/// RandAugment on image [3, height, width] (see the file comment) in place: the steps of
/// draw_rand_augment(options, seed) applied in order.
void rand_augment(float* image, int64_t height, int64_t width, const RandAugmentOptions& options,
                  uint64_t seed);

}  // namespace c2fmae::data
