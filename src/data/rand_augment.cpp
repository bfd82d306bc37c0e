#include "c2fmae/data/rand_augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "c2fmae/core/number_text.h"
#include "c2fmae/core/random.h"

namespace c2fmae::data {
namespace {

using Op = RandAugmentOp;
using Interp = RandAugmentInterpolation;
using Lut = std::array<uint8_t, 256>;

constexpr double kLevelDenom = 10.0;            // timm's _LEVEL_DENOM
constexpr double kPi = 3.14159265358979323846;  // CPython's Py_MATH_PI

// A uint8 RGB image, planar [3, h, w], as PIL holds one.
struct Image8 {
  int64_t h = 0, w = 0;
  std::vector<uint8_t> px;
  uint8_t* plane(int c) { return px.data() + c * h * w; }
  const uint8_t* plane(int c) const { return px.data() + c * h * w; }
};

uint8_t to_u8(float v) {
  v = std::nearbyint(v);
  return v >= 255.0f ? 255 : v > 0.0f ? static_cast<uint8_t>(v) : 0;  // NaN -> 0
}

Image8 load(const float* image, int64_t h, int64_t w) {
  Image8 im{h, w, std::vector<uint8_t>(static_cast<size_t>(3 * h * w))};
  for (size_t i = 0; i < im.px.size(); ++i) im.px[i] = to_u8(image[i]);
  return im;
}

void store(const Image8& im, float* image) {
  for (size_t i = 0; i < im.px.size(); ++i) image[i] = im.px[i];
}

// PIL's float32 arithmetic (Blend.c, Filter.c) emulated through double with a rounding to
// float after each operation: exact for + and * of floats (53 >= 2 * 24 + 2), and immune to
// the compiler fusing a multiply-add, which PIL's own build does not do.
float f32_mul(float a, float b) { return static_cast<float>(static_cast<double>(a) * b); }
float f32_add(float a, float b) { return static_cast<float>(static_cast<double>(a) + b); }

// Filter.c's clip8: clamp, then truncate.
uint8_t clip8(float v) { return v <= 0.0f ? 0 : v >= 255.0f ? 255 : static_cast<uint8_t>(v); }

uint8_t clip_int(int64_t v) { return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255)); }

std::array<int64_t, 256> histogram(const uint8_t* p, int64_t n) {
  std::array<int64_t, 256> hist{};
  for (int64_t i = 0; i < n; ++i) ++hist[p[i]];
  return hist;
}

void apply_luts(Image8& im, const std::array<Lut, 3>& luts) {
  const int64_t n = im.h * im.w;
  for (int c = 0; c < 3; ++c) {
    uint8_t* p = im.plane(c);
    for (int64_t i = 0; i < n; ++i) p[i] = luts[c][p[i]];
  }
}

void apply_lut(Image8& im, const Lut& lut) { apply_luts(im, {lut, lut, lut}); }

// ImageOps.autocontrast (cutoff 0): each band's [lo, hi] stretched to [0, 255].
void autocontrast(Image8& im) {
  std::array<Lut, 3> luts;
  for (int c = 0; c < 3; ++c) {
    const auto hist = histogram(im.plane(c), im.h * im.w);
    int lo = 0, hi = 255;
    while (lo < 255 && hist[lo] == 0) ++lo;
    while (hi > 0 && hist[hi] == 0) --hi;
    for (int i = 0; i < 256; ++i) {
      if (hi <= lo) {
        luts[c][i] = static_cast<uint8_t>(i);
      } else {
        const double scale = 255.0 / (hi - lo), offset = -lo * scale;
        luts[c][i] = clip_int(static_cast<int64_t>(i * scale + offset));
      }
    }
  }
  apply_luts(im, luts);
}

// ImageOps.equalize: each band through its cumulative histogram, in steps of
// (pixels - pixels of the top value) // 255; identity for one value or too few pixels.
void equalize(Image8& im) {
  std::array<Lut, 3> luts;
  for (int c = 0; c < 3; ++c) {
    const auto hist = histogram(im.plane(c), im.h * im.w);
    int64_t nonzero = 0, total = 0, last = 0;
    for (int64_t v : hist) {
      if (v == 0) continue;
      ++nonzero;
      total += v;
      last = v;
    }
    const int64_t step = nonzero <= 1 ? 0 : (total - last) / 255;
    int64_t n = step / 2;
    for (int i = 0; i < 256; ++i) {
      luts[c][i] = step == 0 ? static_cast<uint8_t>(i) : clip_int(n / step);
      n += hist[i];
    }
  }
  apply_luts(im, luts);
}

Lut make_lut(int64_t (*f)(int64_t, int64_t), int64_t arg) {
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = clip_int(f(i, arg));
  return lut;
}

int64_t invert_value(int64_t v, int64_t) { return 255 - v; }
// ImageOps.posterize with timm's guard (>= 8 bits: unchanged); <= 0 bits keeps nothing, as
// PIL's mask arithmetic did before Pillow began to reject such bits.
int64_t posterize_value(int64_t v, int64_t bits) {
  if (bits >= 8) return v;
  if (bits <= 0) return 0;
  return v & (0xFF << (8 - bits)) & 0xFF;
}
// ImageOps.solarize: values >= threshold inverted.
int64_t solarize_value(int64_t v, int64_t threshold) { return v < threshold ? v : 255 - v; }
// timm's solarize_add: values below 128 raised by `add`, capped at 255.
int64_t solarize_add_value(int64_t v, int64_t add) {
  return v < 128 ? std::min<int64_t>(255, v + add) : v;
}

// Convert.c's rgb2l: ITU-R 601-2 luma in 16-bit fixed point.
std::vector<uint8_t> grayscale(const Image8& im) {
  const int64_t n = im.h * im.w;
  const uint8_t *r = im.plane(0), *g = im.plane(1), *b = im.plane(2);
  std::vector<uint8_t> l(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    l[i] = static_cast<uint8_t>((r[i] * 19595 + g[i] * 38470 + b[i] * 7471 + 0x8000) >> 16);
  }
  return l;
}

// Blend.c's ImagingBlend(degenerate, image, alpha) into `im`: degenerate + alpha * (image -
// degenerate) in float32, clamped and truncated (ImageEnhance's enhance(factor)).
void blend_from(Image8& im, const Image8& degenerate, double factor) {
  const float alpha = static_cast<float>(factor);
  for (size_t i = 0; i < im.px.size(); ++i) {
    const int d = degenerate.px[i];
    const float t =
        f32_add(static_cast<float>(d), f32_mul(alpha, static_cast<float>(im.px[i] - d)));
    im.px[i] = clip8(t);
  }
}

// ImageFilter.SMOOTH (3x3 kernel [[1,1,1],[1,5,1],[1,1,1]] / 13), Filter.c's order of float32
// operations; the border rows and columns are copied; images under 3x3 are copied whole.
Image8 smooth(const Image8& im) {
  Image8 out = im;
  if (im.h < 3 || im.w < 3) return out;
  const float k1 = 1.0f / 13.0f, k5 = 5.0f / 13.0f;
  auto row3 = [&](const uint8_t* row, int64_t x, float centre) {
    return f32_add(f32_add(f32_mul(row[x - 1], k1), f32_mul(row[x], centre)),
                   f32_mul(row[x + 1], k1));
  };
  for (int c = 0; c < 3; ++c) {
    const uint8_t* src = im.plane(c);
    uint8_t* dst = out.plane(c);
    for (int64_t y = 1; y < im.h - 1; ++y) {
      for (int64_t x = 1; x < im.w - 1; ++x) {
        float ss = 0.5f;  // rounding
        ss = f32_add(ss, row3(src + (y + 1) * im.w, x, k1));
        ss = f32_add(ss, row3(src + y * im.w, x, k5));
        ss = f32_add(ss, row3(src + (y - 1) * im.w, x, k1));
        dst[y * im.w + x] = clip8(ss);
      }
    }
  }
  return out;
}

void color(Image8& im, double factor) {
  const auto l = grayscale(im);
  Image8 degenerate = im;
  for (int c = 0; c < 3; ++c) std::copy(l.begin(), l.end(), degenerate.plane(c));
  blend_from(im, degenerate, factor);
}

// ImageEnhance.Contrast: blend with the grey of the luma's mean, int(mean + 0.5).
void contrast(Image8& im, double factor) {
  const auto l = grayscale(im);
  int64_t sum = 0;
  for (uint8_t v : l) sum += v;
  const double mean = l.empty() ? 0.0 : static_cast<double>(sum) / static_cast<double>(l.size());
  Image8 degenerate = im;
  std::fill(degenerate.px.begin(), degenerate.px.end(), static_cast<uint8_t>(mean + 0.5));
  blend_from(im, degenerate, factor);
}

void brightness(Image8& im, double factor) {
  Image8 degenerate = im;
  std::fill(degenerate.px.begin(), degenerate.px.end(), uint8_t{0});
  blend_from(im, degenerate, factor);
}

void sharpness(Image8& im, double factor) { blend_from(im, smooth(im), factor); }

using Rgb = std::array<uint8_t, 3>;

// Geometry.c's bilinear_filter32RGB at source point (xin, yin) (inside the image): columns and
// the first row clamped to the edge, a second row below the image repeats the first.
Rgb sample_bilinear(const Image8& src, double xin, double yin) {
  xin -= 0.5;
  yin -= 0.5;
  const auto x = static_cast<int64_t>(std::floor(xin)), y = static_cast<int64_t>(std::floor(yin));
  const double dx = xin - x, dy = yin - y;
  const int64_t x0 = std::clamp<int64_t>(x, 0, src.w - 1);
  const int64_t x1 = std::clamp<int64_t>(x + 1, 0, src.w - 1);
  const int64_t row0 = std::clamp<int64_t>(y, 0, src.h - 1) * src.w;
  const bool has_row1 = y + 1 >= 0 && y + 1 < src.h;
  Rgb out;
  for (int c = 0; c < 3; ++c) {
    const uint8_t* in = src.plane(c) + row0;
    double v1 = in[x0] + (in[x1] - in[x0]) * dx, v2 = v1;
    if (has_row1) {
      in = src.plane(c) + (y + 1) * src.w;
      v2 = in[x0] + (in[x1] - in[x0]) * dx;
    }
    v1 = v1 + (v2 - v1) * dy;
    out[c] = v1 <= 0.0 ? 0 : v1 >= 255.0 ? 255 : static_cast<uint8_t>(v1);
  }
  return out;
}

// Geometry.c's BICUBIC: cubic convolution (a = -1) through v2 (offset 0) and v3 (offset 1).
template <class T>
double cubic(T v1, T v2, T v3, T v4, double d) {
  const double p1 = v2;
  const double p2 = -v1 + v3;
  const double p3 = 2 * (v1 - v2) + v3 - v4;
  const double p4 = -v1 + v2 - v3 + v4;
  return p1 + d * (p2 + d * (p3 + d * p4));
}

// Geometry.c's bicubic_filter32RGB at source point (xin, yin) (inside the image): columns and
// the first row clamped to the edge, later rows outside the image repeat the row before.
Rgb sample_bicubic(const Image8& src, double xin, double yin) {
  xin -= 0.5;
  yin -= 0.5;
  const auto x = static_cast<int64_t>(std::floor(xin)) - 1;
  const auto y = static_cast<int64_t>(std::floor(yin)) - 1;
  const double dx = xin - (x + 1), dy = yin - (y + 1);
  int64_t cols[4], rows[4];
  for (int i = 0; i < 4; ++i) cols[i] = std::clamp<int64_t>(x + i, 0, src.w - 1);
  for (int i = 0; i < 4; ++i) rows[i] = y + i;
  rows[0] = std::clamp<int64_t>(y, 0, src.h - 1);
  Rgb out;
  for (int c = 0; c < 3; ++c) {
    auto row = [&](int64_t r) {
      const uint8_t* in = src.plane(c) + r * src.w;
      return cubic<int>(in[cols[0]], in[cols[1]], in[cols[2]], in[cols[3]], dx);
    };
    double v[4];
    v[0] = row(rows[0]);
    for (int i = 1; i < 4; ++i) v[i] = rows[i] >= 0 && rows[i] < src.h ? row(rows[i]) : v[i - 1];
    const double r = cubic<double>(v[0], v[1], v[2], v[3], dy);
    out[c] = r <= 0.0 ? 0 : r >= 255.0 ? 255 : static_cast<uint8_t>(r);
  }
  return out;
}

// Image.transform(size, AFFINE, a, resample, fillcolor=fill): output pixel (x, y) samples the
// source at a * (x + 0.5, y + 0.5, 1); source points outside [0, w) x [0, h) take the fill.
void affine(Image8& im, const double a[6], const float fill[3], Interp interpolation) {
  if (interpolation == Interp::kRandom) {
    throw std::invalid_argument(
        "apply_rand_augment_op: the interpolation must be kBilinear or kBicubic, but got "
        "kRandom\nhint: draw_rand_augment resolves kRandom per op");
  }
  const Image8 src = im;
  const Rgb fill8 = {to_u8(fill[0]), to_u8(fill[1]), to_u8(fill[2])};
  const int64_t plane = im.h * im.w;
  for (int64_t y = 0; y < im.h; ++y) {
    for (int64_t x = 0; x < im.w; ++x) {
      const double xo = x + 0.5, yo = y + 0.5;
      const double xin = a[0] * xo + a[1] * yo + a[2];
      const double yin = a[3] * xo + a[4] * yo + a[5];
      const bool inside = xin >= 0.0 && xin < im.w && yin >= 0.0 && yin < im.h;
      const Rgb rgb = !inside                              ? fill8
                      : interpolation == Interp::kBilinear ? sample_bilinear(src, xin, yin)
                                                           : sample_bicubic(src, xin, yin);
      for (int c = 0; c < 3; ++c) im.px[c * plane + y * im.w + x] = rgb[c];
    }
  }
}

// Python's round(v, 15): correctly rounded to 15 decimals, as printf and strtod do.
double round15(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.15f", v);
  return std::strtod(text, nullptr);
}

// Image.rotate(degrees, expand=False): PIL's inverse matrix about the centre (w/2, h/2).
void rotate(Image8& im, double degrees, const float fill[3], Interp interpolation) {
  double angle = std::fmod(degrees, 360.0);  // Python's angle % 360.0
  if (angle < 0.0) angle += 360.0;
  angle = -(angle * (kPi / 180.0));  // -math.radians(angle)
  double a[6] = {round15(std::cos(angle)),  round15(std::sin(angle)), 0.0,
                 round15(-std::sin(angle)), round15(std::cos(angle)), 0.0};
  const double cx = im.w / 2.0, cy = im.h / 2.0;
  const double a2 = a[0] * -cx + a[1] * -cy + a[2], a5 = a[3] * -cx + a[4] * -cy + a[5];
  a[2] = a2 + cx;
  a[5] = a5 + cy;
  affine(im, a, fill, interpolation);
}

void check_size(const char* fn, int64_t height, int64_t width) {
  if (height < 0 || width < 0) {
    throw std::invalid_argument(std::string(fn) + ": expected a size >= 0, but got " +
                                std::to_string(height) + "x" + std::to_string(width));
  }
}

void apply_op(Image8& im, Op op, double argument, const float fill[3], Interp interpolation) {
  const auto int_arg = static_cast<int64_t>(argument);  // timm's integer arguments
  switch (op) {
    case Op::kAutoContrast:
      return autocontrast(im);
    case Op::kEqualize:
      return equalize(im);
    case Op::kInvert:
      return apply_lut(im, make_lut(invert_value, 0));
    case Op::kRotate:
      return rotate(im, argument, fill, interpolation);
    case Op::kPosterize:
      return apply_lut(im, make_lut(posterize_value, int_arg));
    case Op::kSolarize:
      return apply_lut(im, make_lut(solarize_value, int_arg));
    case Op::kSolarizeAdd:
      return apply_lut(im, make_lut(solarize_add_value, int_arg));
    case Op::kColor:
      return color(im, argument);
    case Op::kContrast:
      return contrast(im, argument);
    case Op::kBrightness:
      return brightness(im, argument);
    case Op::kSharpness:
      return sharpness(im, argument);
    case Op::kShearX: {  // Image.transform(AFFINE, (1, f, 0, 0, 1, 0))
      const double a[6] = {1, argument, 0, 0, 1, 0};
      return affine(im, a, fill, interpolation);
    }
    case Op::kShearY: {
      const double a[6] = {1, 0, 0, argument, 1, 0};
      return affine(im, a, fill, interpolation);
    }
    case Op::kTranslateXRel: {  // shifted left by argument * width for argument > 0
      const double a[6] = {1, 0, argument * static_cast<double>(im.w), 0, 1, 0};
      return affine(im, a, fill, interpolation);
    }
    case Op::kTranslateYRel: {
      const double a[6] = {1, 0, 0, 0, 1, argument * static_cast<double>(im.h)};
      return affine(im, a, fill, interpolation);
    }
  }
  throw std::invalid_argument("apply_rand_augment_op: unknown op " +
                              std::to_string(static_cast<int>(op)));
}

}  // namespace

void RandAugmentOptions::validate() const {
  auto fail = [](const std::string& what, double value) {
    throw std::invalid_argument("RandAugmentOptions: " + what + ", but got " +
                                shortest_text(value));
  };
  if (num_ops < 0) fail("num_ops must be >= 0", static_cast<double>(num_ops));
  if (!(magnitude >= 0.0) || !std::isfinite(magnitude)) fail("magnitude must be >= 0", magnitude);
  if (!(magnitude_std >= 0.0)) fail("magnitude_std must be >= 0 (inf: uniform)", magnitude_std);
  if (!(magnitude_max > 0.0) || !std::isfinite(magnitude_max)) {
    fail("magnitude_max must be > 0", magnitude_max);
  }
  if (!(prob >= 0.0 && prob <= 1.0)) fail("prob must be in [0, 1]", prob);
  for (float f : fill) {
    if (!(f >= 0.0f && f <= 255.0f)) fail("fill must be in [0, 255]", f);
  }
}

std::optional<RandAugmentOptions> parse_rand_augment(const std::string& spec) {
  if (spec.empty() || spec == "none") return std::nullopt;
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("rand_augment '" + spec + "': " + why +
                                "\nhint: write e.g. rand-m9-mstd0.5-inc1 (keys m, n, p, mstd, "
                                "mmax, inc), or none");
  };
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t dash = spec.find('-', start);
    parts.push_back(spec.substr(start, dash - start));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  if (parts[0] != "rand") fail("must start with 'rand', but starts with '" + parts[0] + "'");
  RandAugmentOptions o;  // timm's defaults for what the spec leaves out
  o.magnitude = kLevelDenom;
  o.magnitude_std = 0.0;
  o.magnitude_max = kLevelDenom;
  o.num_ops = 2;
  o.prob = 0.5;
  o.increasing = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty()) fail("empty section");
    if (part[0] == 't') fail("section '" + part + "': transform sets are not provided");
    const size_t digit = part.find_first_of("0123456789");
    if (digit == std::string::npos) fail("section '" + part + "' has no number");
    const std::string key = part.substr(0, digit), value = part.substr(digit);
    auto as_int = [&]() -> int64_t {
      size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size()) fail("section '" + part + "': '" + value + "' is not an integer");
      return v;
    };
    auto as_double = [&]() -> double {
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size()) fail("section '" + part + "': '" + value + "' is not a number");
      return v;
    };
    if (key == "m") {
      o.magnitude = static_cast<double>(as_int());
    } else if (key == "n") {
      o.num_ops = as_int();
    } else if (key == "p") {
      o.prob = as_double();
    } else if (key == "mstd") {
      const double mstd = as_double();
      o.magnitude_std = mstd > 100.0 ? std::numeric_limits<double>::infinity() : mstd;
    } else if (key == "mmax") {
      o.magnitude_max = static_cast<double>(as_int());
    } else if (key == "inc") {
      o.increasing = as_int() != 0;
    } else {
      fail("unknown key '" + key + "' in section '" + part + "'");
    }
  }
  try {
    o.validate();
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  return o;
}

std::string rand_augment_op_name(RandAugmentOp op, bool increasing) {
  const std::string inc = increasing ? "Increasing" : "";
  switch (op) {
    case Op::kAutoContrast:
      return "AutoContrast";
    case Op::kEqualize:
      return "Equalize";
    case Op::kInvert:
      return "Invert";
    case Op::kRotate:
      return "Rotate";
    case Op::kPosterize:
      return "Posterize" + inc;
    case Op::kSolarize:
      return "Solarize" + inc;
    case Op::kSolarizeAdd:
      return "SolarizeAdd";
    case Op::kColor:
      return "Color" + inc;
    case Op::kContrast:
      return "Contrast" + inc;
    case Op::kBrightness:
      return "Brightness" + inc;
    case Op::kSharpness:
      return "Sharpness" + inc;
    case Op::kShearX:
      return "ShearX";
    case Op::kShearY:
      return "ShearY";
    case Op::kTranslateXRel:
      return "TranslateXRel";
    case Op::kTranslateYRel:
      return "TranslateYRel";
  }
  throw std::invalid_argument("rand_augment_op_name: unknown op " +
                              std::to_string(static_cast<int>(op)));
}

double rand_augment_op_argument(RandAugmentOp op, double magnitude, bool increasing, bool negate) {
  const double level = magnitude / kLevelDenom;
  const double sign = negate ? -1.0 : 1.0;
  switch (op) {
    case Op::kAutoContrast:
    case Op::kEqualize:
    case Op::kInvert:
      return 0.0;
    case Op::kRotate:
      return sign * (level * 30.0);
    case Op::kPosterize: {
      const auto bits = static_cast<int64_t>(level * 4);
      return static_cast<double>(increasing ? 4 - bits : bits);
    }
    case Op::kSolarize: {
      const int64_t threshold = std::min<int64_t>(256, static_cast<int64_t>(level * 256));
      return static_cast<double>(increasing ? 256 - threshold : threshold);
    }
    case Op::kSolarizeAdd:
      return static_cast<double>(std::min<int64_t>(128, static_cast<int64_t>(level * 110)));
    case Op::kColor:
    case Op::kContrast:
    case Op::kBrightness:
    case Op::kSharpness:
      return increasing ? std::max(0.1, 1.0 + sign * (level * 0.9)) : level * 1.8 + 0.1;
    case Op::kShearX:
    case Op::kShearY:
      return sign * (level * 0.3);
    case Op::kTranslateXRel:
    case Op::kTranslateYRel:
      return sign * (level * 0.45);
  }
  throw std::invalid_argument("rand_augment_op_argument: unknown op " +
                              std::to_string(static_cast<int>(op)));
}

void apply_rand_augment_op(RandAugmentOp op, float* image, int64_t height, int64_t width,
                           double argument, const float fill[3],
                           RandAugmentInterpolation interpolation) {
  check_size("apply_rand_augment_op", height, width);
  if (!std::isfinite(argument)) {
    throw std::invalid_argument("apply_rand_augment_op: expected a finite argument, but got " +
                                shortest_text(argument));
  }
  Image8 im = load(image, height, width);
  apply_op(im, op, argument, fill, interpolation);
  store(im, image);
}

std::vector<RandAugmentStep> draw_rand_augment(const RandAugmentOptions& options, uint64_t seed) {
  options.validate();
  Rng rng(seed);
  std::vector<Op> chosen;
  for (int64_t i = 0; i < options.num_ops; ++i) {
    chosen.push_back(static_cast<Op>(uniform_int(rng, 0, kNumRandAugmentOps - 1)));
  }
  std::vector<RandAugmentStep> steps;
  for (Op op : chosen) {
    if (options.prob < 1.0 && uniform01(rng) > options.prob) continue;
    double magnitude = options.magnitude;
    if (std::isinf(options.magnitude_std)) {
      magnitude = uniform(rng, 0.0, magnitude);
    } else if (options.magnitude_std > 0.0) {
      magnitude += options.magnitude_std * standard_normal(rng);
    }
    magnitude = std::max(0.0, std::min(magnitude, options.magnitude_max));
    const bool affine_op = op == Op::kRotate || op == Op::kShearX || op == Op::kShearY ||
                           op == Op::kTranslateXRel || op == Op::kTranslateYRel;
    const bool enhance_op =
        op == Op::kColor || op == Op::kContrast || op == Op::kBrightness || op == Op::kSharpness;
    // _randomly_negate is drawn by the affine ops' and the increasing enhance ops' levels.
    const bool negate = (affine_op || (enhance_op && options.increasing)) && uniform01(rng) > 0.5;
    RandAugmentStep step;
    step.op = op;
    step.argument = rand_augment_op_argument(op, magnitude, options.increasing, negate);
    step.interpolation = options.interpolation;
    if (affine_op && options.interpolation == Interp::kRandom) {
      step.interpolation = uniform_int(rng, 0, 1) == 0 ? Interp::kBilinear : Interp::kBicubic;
    }
    steps.push_back(step);
  }
  return steps;
}

void rand_augment(float* image, int64_t height, int64_t width, const RandAugmentOptions& options,
                  uint64_t seed) {
  check_size("rand_augment", height, width);
  const auto steps = draw_rand_augment(options, seed);
  Image8 im = load(image, height, width);
  for (const auto& step : steps) {
    apply_op(im, step.op, step.argument, options.fill, step.interpolation);
  }
  store(im, image);
}

}  // namespace c2fmae::data
