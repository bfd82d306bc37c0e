#include "c2fmae/data/rand_augment.h"

#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <vector>

#include "c2fmae/core/random.h"
#include "test_helpers.h"

namespace c2fmae::data {
namespace {

using Op = RandAugmentOp;
using Interp = RandAugmentInterpolation;
const float kFill[3] = {124, 116, 104};

std::vector<float> to_float(const std::vector<int>& v) { return {v.begin(), v.end()}; }

std::vector<float> applied(Op op, std::vector<float> image, int64_t h, int64_t w, double arg,
                           Interp interp = Interp::kBicubic) {
  apply_rand_augment_op(op, image.data(), h, w, arg, kFill, interp);
  return image;
}

// A [3, h, w] image of integers 0..255 drawn from `seed`.
std::vector<float> random_image(int64_t h, int64_t w, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> image(static_cast<size_t>(3 * h * w));
  for (float& v : image) v = static_cast<float>(uniform_int(rng, 0, 255));
  return image;
}

TEST(RandAugmentParse, AcceptsTimmStrings) {
  auto o = parse_rand_augment("rand-m9-mstd0.5-inc1");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->num_ops, 2);
  EXPECT_EQ(o->magnitude, 9.0);
  EXPECT_EQ(o->magnitude_std, 0.5);
  EXPECT_EQ(o->magnitude_max, 10.0);
  EXPECT_EQ(o->prob, 0.5);
  EXPECT_TRUE(o->increasing);
  EXPECT_EQ(o->interpolation, Interp::kBicubic);

  o = parse_rand_augment("rand-n3-m7-p0.8-mmax15-inc0");  // keys in any order
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->num_ops, 3);
  EXPECT_EQ(o->magnitude, 7.0);
  EXPECT_EQ(o->prob, 0.8);
  EXPECT_EQ(o->magnitude_max, 15.0);
  EXPECT_FALSE(o->increasing);

  o = parse_rand_augment("rand");  // timm's defaults: m10, n2, p0.5, mstd0, not increasing
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->magnitude, 10.0);
  EXPECT_EQ(o->magnitude_std, 0.0);
  EXPECT_FALSE(o->increasing);

  o = parse_rand_augment("rand-m9-mstd101");  // mstd > 100: uniform in [0, m], as timm
  ASSERT_TRUE(o.has_value());
  EXPECT_TRUE(std::isinf(o->magnitude_std));

  EXPECT_FALSE(parse_rand_augment("").has_value());
  EXPECT_FALSE(parse_rand_augment("none").has_value());
}

TEST(RandAugmentParse, RejectsBadSpecsNamingThePart) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"augmix-m5", "augmix"},
      {"rand-x9", "'x'"},
      {"rand-m", "'m'"},
      {"rand-m9.5", "9.5"},
      {"rand-m9--n2", "empty"},
      {"rand-m9-", "empty"},
      {"rand-m9-tweights", "tweights"},
      {"rand-p1.5", "prob"},
      {"rand-mstd0.5x", "0.5x"},
      {"Rand-m9", "Rand"},
  };
  for (const auto& [spec, part] : bad) {
    try {
      parse_rand_augment(spec);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  }
}

TEST(RandAugmentOptions, ValidateRejectsOutOfRange) {
  RandAugmentOptions o;
  EXPECT_NO_THROW(o.validate());
  o.prob = -0.1;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = {};
  o.num_ops = -1;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = {};
  o.magnitude_std = -1;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = {};
  o.fill[1] = 300;
  EXPECT_THROW(o.validate(), std::invalid_argument);
}

// timm's LEVEL_TO_ARG with _randomly_negate fixed, from timm/data/auto_augment.py:
//   [LEVEL_TO_ARG[n](m, {})[0] if LEVEL_TO_ARG[n] else 0.0 for n in _RAND_(INCREASING_)TRANSFORMS]
TEST(RandAugmentLevels, MatchTimm) {
  struct Row {
    double m;
    bool increasing, negate;
    std::vector<double> args;  // in RandAugmentOp order
  };
  const std::vector<Row> rows = {
      {9,
       true,
       false,
       {0, 0, 0, 27.0, 1, 26, 99, 1.81, 1.81, 1.81, 1.81, 0.27, 0.27, 0.405, 0.405}},
      {9,
       true,
       true,
       {0, 0, 0, -27.0, 1, 26, 99, 0.18999999999999995, 0.18999999999999995, 0.18999999999999995,
        0.18999999999999995, -0.27, -0.27, -0.405, -0.405}},
      {9,
       false,
       false,
       {0, 0, 0, 27.0, 3, 230, 99, 1.7200000000000002, 1.7200000000000002, 1.7200000000000002,
        1.7200000000000002, 0.27, 0.27, 0.405, 0.405}},
      {7.5,
       true,
       false,
       {0, 0, 0, 22.5, 1, 64, 82, 1.675, 1.675, 1.675, 1.675, 0.22499999999999998,
        0.22499999999999998, 0.3375, 0.3375}},
      {10, true, true, {0, 0, 0, -30.0, 0, 0, 110, 0.1, 0.1, 0.1, 0.1, -0.3, -0.3, -0.45, -0.45}},
      {0, true, false, {0, 0, 0, 0, 4, 256, 0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0, 0}},
  };
  for (const auto& r : rows) {
    for (int64_t i = 0; i < kNumRandAugmentOps; ++i) {
      EXPECT_DOUBLE_EQ(rand_augment_op_argument(static_cast<Op>(i), r.m, r.increasing, r.negate),
                       r.args[i])
          << rand_augment_op_name(static_cast<Op>(i), r.increasing) << " m=" << r.m;
    }
  }
  EXPECT_EQ(rand_augment_op_name(Op::kSolarize, true), "SolarizeIncreasing");
  EXPECT_EQ(rand_augment_op_name(Op::kTranslateYRel, true), "TranslateYRel");
}

// Golden values from Pillow 13 (the image planar [3, 4, 4]; PIL's array is [h, w, c]):
//   from PIL import Image, ImageOps, ImageEnhance as E
//   a = np.random.default_rng(0).integers(20, 230, (4, 4, 3), dtype=np.uint8)
//   im = Image.fromarray(a); planar = lambda i: np.asarray(i).transpose(2, 0, 1).ravel().tolist()
//   planar(ImageOps.autocontrast(im)), planar(ImageOps.invert(im)),
//   planar(ImageOps.posterize(im, 2)), planar(ImageOps.solarize(im, 100)),
//   planar(im.point([min(255, i + 60) if i < 128 else i for i in range(256)] * 3)),  # timm's
//   planar(E.Color(im).enhance(1.7)), ... E.Contrast, E.Brightness, E.Sharpness likewise.
TEST(RandAugmentOps, ColourOpsMatchPil) {
  const std::vector<int> input = {
      97,  212, 196, 76,  83,  28,  35,  68, 86,  83, 119, 214, 82,  126, 79,  176,  //
      126, 32,  126, 170, 158, 43,  169, 23, 118, 42, 159, 112, 76,  223, 177, 124,  //
      189, 153, 223, 210, 122, 216, 51,  68, 190, 72, 124, 120, 146, 97,  172, 200};
  struct Case {
    Op op;
    double arg;
    std::vector<int> expected;
  };
  const std::vector<Case> cases = {
      {Op::kAutoContrast, 0, {94,  252, 230, 65,  75,  0,   9,   54,  79,  75,  124, 255,
                              74,  134, 69,  202, 131, 11,  131, 187, 172, 25,  186, 0,
                              121, 24,  173, 113, 67,  255, 196, 128, 204, 151, 254, 235,
                              105, 244, 0,   25,  206, 31,  108, 102, 140, 68,  179, 220}},
      {Op::kInvert, 0, {158, 43,  59,  179, 172, 227, 220, 187, 169, 172, 136, 41,
                        173, 129, 176, 79,  129, 223, 129, 85,  97,  212, 86,  232,
                        137, 213, 96,  143, 179, 32,  78,  131, 66,  102, 32,  45,
                        133, 39,  204, 187, 65,  183, 131, 135, 109, 158, 83,  55}},
      {Op::kPosterize, 2, {64, 192, 192, 64,  64,  0,   0,   64,  64,  64,  64,  192,
                           64, 64,  64,  128, 64,  0,   64,  128, 128, 0,   128, 0,
                           64, 0,   128, 64,  64,  192, 128, 64,  128, 128, 192, 192,
                           64, 192, 0,   64,  128, 64,  64,  64,  128, 64,  128, 192}},
      {Op::kSolarize, 100, {97,  43,  59, 76,  83,  28, 35,  68,  86,  83,  136, 41,
                            82,  129, 79, 79,  129, 32, 129, 85,  97,  43,  86,  23,
                            137, 42,  96, 143, 76,  32, 78,  131, 66,  102, 32,  45,
                            133, 39,  51, 68,  65,  72, 131, 135, 109, 97,  83,  55}},
      {Op::kSolarizeAdd, 60, {157, 212, 196, 136, 143, 88,  95,  128, 146, 143, 179, 214,
                              142, 186, 139, 176, 186, 92,  186, 170, 158, 103, 169, 83,
                              178, 102, 159, 172, 136, 223, 177, 184, 189, 153, 223, 210,
                              182, 216, 111, 128, 190, 132, 184, 180, 146, 157, 172, 200}},
      {Op::kColor, 1.7, {77,  255, 222, 27,  49,  7,   0,   86,  64,  100, 102, 255,
                         79,  88,  31,  195, 126, 0,   103, 186, 176, 32,  206, 9,
                         118, 30,  170, 90,  69,  253, 198, 107, 233, 190, 255, 254,
                         115, 255, 6,   86,  241, 81,  110, 103, 188, 38,  189, 236}},
      {Op::kColor, 0.3, {116, 133, 169, 125, 116, 49,  91,  49,  107, 65,  135, 164,
                         84,  163, 126, 156, 125, 79,  148, 153, 139, 53,  131, 36,
                         117, 53,  147, 133, 83,  192, 156, 140, 144, 115, 177, 165,
                         128, 105, 95,  49,  138, 62,  137, 136, 104, 155, 154, 163}},
      {Op::kContrast, 0.4, {110, 156, 149, 101, 104, 82,  85,  98,  105, 104, 119, 157,
                            104, 121, 103, 141, 121, 84,  121, 139, 134, 88,  139, 80,
                            118, 88,  135, 116, 101, 160, 142, 121, 147, 132, 160, 155,
                            120, 157, 91,  98,  147, 100, 121, 119, 129, 110, 140, 151}},
      {Op::kContrast, 1.8, {79,  255, 255, 41,  54,  0,   0,   27,  59,  54,  119, 255,
                            52,  131, 47,  221, 131, 0,   131, 210, 189, 0,   209, 0,
                            117, 0,   191, 106, 41,  255, 223, 128, 245, 180, 255, 255,
                            124, 255, 0,   27,  246, 34,  128, 120, 167, 79,  214, 255}},
      {Op::kBrightness, 1.6, {155, 255, 255, 121, 132, 44,  56,  108, 137, 132, 190, 255,
                              131, 201, 126, 255, 201, 51,  201, 255, 252, 68,  255, 36,
                              188, 67,  254, 179, 121, 255, 255, 198, 255, 244, 255, 255,
                              195, 255, 81,  108, 255, 115, 198, 192, 233, 155, 255, 255}},
      {Op::kSharpness, 1.9, {97,  212, 196, 76,  83,  0,   0,   68,  86,  84,  128, 214,
                             82,  126, 79,  176, 126, 32,  126, 170, 158, 2,   214, 23,
                             118, 0,   184, 112, 76,  223, 177, 124, 189, 153, 223, 210,
                             122, 255, 0,   68,  190, 34,  124, 120, 146, 97,  172, 200}},
      {Op::kSharpness, 0.1, {97,  212, 196, 76,  83,  75,  84,  68,  86,  81,  109, 214,
                             82,  126, 79,  176, 126, 32,  126, 170, 158, 83,  124, 23,
                             118, 96,  133, 112, 76,  223, 177, 124, 189, 153, 223, 210,
                             122, 174, 105, 68,  190, 109, 124, 120, 146, 97,  172, 200}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(applied(c.op, to_float(input), 4, 4, c.arg), to_float(c.expected))
        << rand_augment_op_name(c.op, false) << "(" << c.arg << ")";
  }
}

// Pillow 13, an image [17, 16] whose rows are constant:
//   y = np.arange(17)[:, None].repeat(16, 1)
//   e = np.stack([y * 15, np.minimum(y, 10) * 20, (y * 37) % 256], -1).astype(np.uint8)
//   np.asarray(ImageOps.equalize(Image.fromarray(e)))[:, 0].T.tolist()
// Channel 0 reaches the clip at 255, channel 1 is left as is (step 0: too few pixels below its
// most frequent top value).
TEST(RandAugmentOps, EqualizeMatchesPil) {
  const int64_t h = 17, w = 16;
  const std::vector<std::vector<int>> expected = {
      {0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 255},
      {0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 200, 200, 200, 200, 200, 200},
      {0, 48, 96, 144, 176, 208, 240, 16, 64, 112, 160, 192, 224, 255, 32, 80, 128}};
  std::vector<float> image(3 * h * w);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      image[0 * h * w + y * w + x] = static_cast<float>(y * 15);
      image[1 * h * w + y * w + x] = static_cast<float>(std::min<int64_t>(y, 10) * 20);
      image[2 * h * w + y * w + x] = static_cast<float>((y * 37) % 256);
    }
  }
  const auto out = applied(Op::kEqualize, image, h, w, 0);
  for (int c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        ASSERT_EQ(out[c * h * w + y * w + x], expected[c][y]) << "c " << c << " y " << y;
      }
    }
  }
}

// Pillow 13, a [5, 6] image (h, w), fill (124, 116, 104):
//   g = Image.fromarray(np.random.default_rng(1).integers(0, 256, (5, 6, 3), dtype=np.uint8))
//   planar(g.rotate(-23, resample=Image.BICUBIC, fillcolor=(124, 116, 104)))
//   planar(g.transform(g.size, Image.AFFINE, (1, 0.27, 0, 0, 1, 0), resample=Image.BILINEAR,
//                      fillcolor=(124, 116, 104)))
TEST(RandAugmentOps, AffineOpsMatchPil) {
  const std::vector<int> input = {
      255, 121, 6,   168, 187, 243, 236, 164, 210, 210, 218, 114, 160, 79,  120,
      31,  36,  69,  228, 58,  76,  104, 209, 44,  98,  21,  14,  50,  46,  192,  //
      228, 243, 131, 82,  150, 205, 8,   231, 111, 174, 242, 205, 47,  72,  222,
      95,  109, 51,  211, 202, 70,  42,  164, 178, 2,   50,  7,   151, 60,  164,  //
      34,  189, 102, 193, 81,  24,  246, 36,  172, 176, 169, 63,  212, 112, 69,
      108, 238, 81,  202, 65,  193, 250, 2,   140, 243, 29,  53,  221, 230, 156};
  const std::vector<int> rotated = {
      124, 221, 106, 14,  178, 124, 171, 121, 196, 211, 234, 210, 194, 53,  100,
      62,  134, 131, 61,  15,  72,  124, 75,  76,  124, 2,   42,  106, 123, 124,  //
      116, 137, 230, 106, 70,  116, 57,  60,  170, 116, 176, 189, 213, 153, 207,
      123, 196, 211, 57,  71,  17,  66,  111, 45,  116, 0,   138, 96,  182, 116,  //
      104, 144, 129, 108, 191, 104, 221, 124, 90,  197, 169, 49,  170, 93,  85,
      96,  236, 85,  111, 53,  255, 149, 139, 55,  104, 15,  187, 162, 92,  104};
  const std::vector<int> sheared = {
      236, 105, 27,  170, 194, 243, 206, 182, 210, 213, 175, 114, 105, 106, 59,
      34,  58,  124, 67,  75,  102, 203, 53,  124, 19,  21,  49,  77,  192, 124,  //
      230, 227, 124, 91,  157, 205, 98,  182, 136, 201, 227, 205, 63,  173, 136,
      104, 69,  116, 202, 77,  43,  157, 177, 116, 40,  37,  131, 82,  164, 116,  //
      54,  177, 114, 177, 73,  24,  160, 91,  173, 173, 126, 63,  144, 82,  95,
      195, 132, 104, 72,  185, 246, 15,  132, 104, 34,  89,  222, 214, 156, 104};
  EXPECT_EQ(applied(Op::kRotate, to_float(input), 5, 6, -23, Interp::kBicubic), to_float(rotated));
  EXPECT_EQ(applied(Op::kShearX, to_float(input), 5, 6, 0.27, Interp::kBilinear),
            to_float(sheared));
}

TEST(RandAugmentOps, GeometricOpsAtMagnitudeZeroAreIdentity) {
  const auto image = random_image(7, 9, 3);
  for (Op op : {Op::kRotate, Op::kShearX, Op::kShearY, Op::kTranslateXRel, Op::kTranslateYRel}) {
    const double arg = rand_augment_op_argument(op, 0.0, true, true);
    for (Interp interp : {Interp::kBilinear, Interp::kBicubic}) {
      EXPECT_EQ(applied(op, image, 7, 9, arg, interp), image) << rand_augment_op_name(op, true);
    }
  }
}

TEST(RandAugmentOps, RotateBy90MovesPixelsCounterClockwise) {
  const int64_t n = 5;
  const auto image = random_image(n, n, 4);
  for (Interp interp : {Interp::kBilinear, Interp::kBicubic}) {
    const auto out = applied(Op::kRotate, image, n, n, 90, interp);
    for (int c = 0; c < 3; ++c) {
      for (int64_t y = 0; y < n; ++y) {
        for (int64_t x = 0; x < n; ++x) {  // PIL's ROTATE_90: the right column becomes the top row
          ASSERT_EQ(out[(c * n + y) * n + x], image[(c * n + x) * n + (n - 1 - y)]);
        }
      }
    }
  }
}

TEST(RandAugmentOps, TranslateFillsWithTheFillColour) {
  const int64_t h = 6, w = 8;
  const auto image = random_image(h, w, 5);
  // +0.25 of the width: output x samples source x + 2, so the last two columns are fill.
  const auto out = applied(Op::kTranslateXRel, image, h, w, 0.25, Interp::kBilinear);
  for (int c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const float want = x < w - 2 ? image[(c * h + y) * w + x + 2] : kFill[c];
        ASSERT_EQ(out[(c * h + y) * w + x], want) << c << " " << y << " " << x;
      }
    }
  }
  const auto up = applied(Op::kTranslateYRel, image, h, w, -0.5, Interp::kBicubic);
  for (int c = 0; c < 3; ++c) {
    for (int64_t x = 0; x < w; ++x) {
      EXPECT_EQ(up[(c * h + 0) * w + x], kFill[c]);  // the top half came from above the image
      EXPECT_EQ(up[(c * h + h - 1) * w + x], image[(c * h + h / 2 - 1) * w + x]);
    }
  }
}

TEST(RandAugmentOps, InputsAreRoundedAndClampedFirst) {
  std::vector<float> image(3 * 2 * 2, 100.4f);
  image[0] = -7.0f;
  image[1] = 300.0f;
  image[2] = std::numeric_limits<float>::quiet_NaN();
  const auto out = applied(Op::kInvert, image, 2, 2, 0);
  EXPECT_EQ(out[0], 255.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 255.0f);
  EXPECT_EQ(out[3], 155.0f);
  EXPECT_THROW(applied(Op::kRotate, image, 2, 2, 10, Interp::kRandom), std::invalid_argument);
}

TEST(RandAugment, DrawsFollowTimm) {
  RandAugmentOptions o;  // rand-m9-mstd0.5-inc1
  std::map<Op, int> counts;
  int64_t steps = 0, negative = 0, rotations = 0;
  const int64_t draws = 20000;
  for (uint64_t s = 0; s < draws; ++s) {
    for (const auto& st : draw_rand_augment(o, s)) {
      ++steps;
      ++counts[st.op];
      EXPECT_EQ(st.interpolation, Interp::kBicubic);
      if (st.op == Op::kRotate) {
        ++rotations;
        negative += st.argument < 0;
        EXPECT_LE(std::abs(st.argument), 30.0);  // magnitude clipped to 10
        EXPECT_GE(std::abs(st.argument), 19.5);  // m >= 6.5, 5 sigma
      }
      if (st.op == Op::kSolarize) {
        EXPECT_TRUE(st.argument >= 0 && st.argument <= 90);  // m >= 6.5, 5 sigma
      }
    }
  }
  EXPECT_NEAR(static_cast<double>(steps) / (2 * draws), 0.5, 0.01);  // prob 0.5 per op
  EXPECT_EQ(counts.size(), static_cast<size_t>(kNumRandAugmentOps));
  for (const auto& [op, n] : counts) EXPECT_NEAR(n / static_cast<double>(steps), 1.0 / 15, 0.01);
  EXPECT_NEAR(static_cast<double>(negative) / rotations, 0.5, 0.05);

  o.prob = 0.0;
  EXPECT_TRUE(draw_rand_augment(o, 1).empty());
  o.prob = 1.0;
  o.num_ops = 3;
  o.interpolation = Interp::kRandom;
  int bilinear = 0, affine = 0;
  for (uint64_t s = 0; s < 2000; ++s) {
    const auto st = draw_rand_augment(o, s);
    ASSERT_EQ(st.size(), 3u);
    for (const auto& x : st) {
      if (x.op == Op::kRotate || x.op == Op::kShearX || x.op == Op::kTranslateYRel) {
        ++affine;
        bilinear += x.interpolation == Interp::kBilinear;
      }
    }
  }
  EXPECT_NEAR(static_cast<double>(bilinear) / affine, 0.5, 0.06);
}

TEST(RandAugment, DeterministicPerSeedAndUint8Valued) {
  const int64_t h = 24, w = 20;
  const auto image = random_image(h, w, 6);
  RandAugmentOptions o;
  o.prob = 1.0;
  int differ = 0;
  for (uint64_t s = 0; s < 40; ++s) {
    auto a = image, b = image, c = image;
    rand_augment(a.data(), h, w, o, s);
    rand_augment(b.data(), h, w, o, s);
    rand_augment(c.data(), h, w, o, s + 1000);
    EXPECT_EQ(a, b);
    differ += a != c;
    for (float v : a) {
      ASSERT_TRUE(v >= 0.0f && v <= 255.0f && v == std::round(v)) << v;
    }
  }
  EXPECT_GE(differ, 38);
  o.prob = 0.0;
  auto unchanged = image;
  rand_augment(unchanged.data(), h, w, o, 7);
  EXPECT_EQ(unchanged, image);
}

}  // namespace
}  // namespace c2fmae::data
