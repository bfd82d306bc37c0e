#include "c2fmae/data/random_erasing.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "test_helpers.h"

namespace c2fmae::data {
namespace {

// A recognisable image: value 1000 + index, which standard-normal noise never produces.
std::vector<float> marked_image(int64_t c, int64_t h, int64_t w) {
  std::vector<float> image(static_cast<size_t>(c * h * w));
  for (size_t i = 0; i < image.size(); ++i) image[i] = 1000.0f + static_cast<float>(i);
  return image;
}

struct ErasedBox {
  int64_t y0 = -1, y1 = -1, x0 = -1, x1 = -1;  // [y0, y1) x [x0, x1); y0 = -1 when none
};

// The bounding box of the changed pixels of channel 0, expecting every channel to change
// exactly there.
ErasedBox changed_box(const std::vector<float>& before, const std::vector<float>& after, int64_t c,
                      int64_t h, int64_t w) {
  ErasedBox b;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      if (after[y * w + x] == before[y * w + x]) continue;
      if (b.y0 < 0) b = {y, y + 1, x, x + 1};
      b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y + 1);
      b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x + 1);
    }
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const size_t i = static_cast<size_t>((ch * h + y) * w + x);
        const bool inside = y >= b.y0 && y < b.y1 && x >= b.x0 && x < b.x1;
        EXPECT_EQ(after[i] != before[i], inside) << ch << " " << y << " " << x;
      }
    }
  }
  return b;
}

TEST(RandomErasing, ProbZeroLeavesTheImageUnchanged) {
  RandomErasingOptions o;
  o.prob = 0.0;
  const auto image = marked_image(3, 16, 16);
  for (uint64_t s = 0; s < 50; ++s) {
    auto out = image;
    random_erase(out.data(), 3, 16, 16, o, s);
    ASSERT_EQ(out, image);
  }
}

TEST(RandomErasing, ProbOneErasesOneBoxWithinBounds) {
  RandomErasingOptions o;
  o.prob = 1.0;
  const int64_t c = 3, h = 224, w = 224;
  const auto image = marked_image(c, h, w);
  double sum = 0.0, sum2 = 0.0;
  int64_t erased = 0, values = 0;
  for (uint64_t s = 0; s < 100; ++s) {
    auto out = image;
    random_erase(out.data(), c, h, w, o, s);
    const ErasedBox b = changed_box(image, out, c, h, w);
    if (b.y0 < 0) continue;  // all 10 attempts too large: rare, as in timm
    ++erased;
    // Sides are rounded: the true area and aspect lie within half a pixel per side.
    const double bh = static_cast<double>(b.y1 - b.y0), bw = static_cast<double>(b.x1 - b.x0);
    EXPECT_LE((bh - 0.5) * (bw - 0.5), o.max_area * h * w);
    EXPECT_GE((bh + 0.5) * (bw + 0.5), o.min_area * h * w);
    EXPECT_GE((bh + 0.5) / (bw - 0.5), o.min_aspect);
    EXPECT_LE((bh - 0.5) / (bw + 0.5), 1.0 / o.min_aspect);
    EXPECT_LT(b.y1 - b.y0, h);
    EXPECT_LT(b.x1 - b.x0, w);
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = b.y0; y < b.y1; ++y) {
        for (int64_t x = b.x0; x < b.x1; ++x) {
          const double v = out[static_cast<size_t>((ch * h + y) * w + x)];
          sum += v;
          sum2 += v * v;
          ++values;
        }
      }
    }
  }
  EXPECT_GE(erased, 95);
  const double mean = sum / values, var = sum2 / values - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);  // standard-normal fill, per pixel (timm's mode 'pixel')
  EXPECT_NEAR(var, 1.0, 0.02);
}

TEST(RandomErasing, DeterministicPerSeedAndProbability) {
  RandomErasingOptions o;  // MAE: prob 0.25
  const int64_t c = 3, h = 32, w = 32;
  const auto image = marked_image(c, h, w);
  int64_t erased = 0, differ = 0;
  const int64_t n = 2000;
  for (uint64_t s = 0; s < n; ++s) {
    auto a = image, b = image, other = image;
    random_erase(a.data(), c, h, w, o, s);
    random_erase(b.data(), c, h, w, o, s);
    ASSERT_EQ(a, b);
    erased += a != image;
    random_erase(other.data(), c, h, w, o, s + n);
    differ += a != other;
  }
  EXPECT_NEAR(static_cast<double>(erased) / n, 0.25, 0.03);
  EXPECT_GT(differ, erased);  // an erased image and another seed's rarely agree
}

TEST(RandomErasing, SeveralBoxesShareTheArea) {
  RandomErasingOptions o;
  o.prob = 1.0;
  o.min_count = o.max_count = 3;
  const int64_t h = 64, w = 64;
  const auto image = marked_image(1, h, w);
  for (uint64_t s = 0; s < 20; ++s) {
    auto out = image;
    random_erase(out.data(), 1, h, w, o, s);
    int64_t changed = 0;
    for (size_t i = 0; i < out.size(); ++i) changed += out[i] != image[i];
    // Three boxes of at most a third of max_area each (plus rounding), overlapping or not.
    EXPECT_GT(changed, 0);
    EXPECT_LE(changed, static_cast<int64_t>(1.2 * o.max_area * h * w));
  }
}

TEST(RandomErasing, ValidateRejectsOutOfRange) {
  RandomErasingOptions o;
  EXPECT_NO_THROW(o.validate());
  o.prob = 1.5;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = {};
  o.min_area = 0.5;  // above max_area
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = {};
  o.min_aspect = 0.0;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = {};
  o.max_count = 0;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  std::vector<float> image(12, 0.0f);
  o = {};
  o.prob = 2.0;
  EXPECT_THROW(random_erase(image.data(), 3, 2, 2, o, 0), std::invalid_argument);
}

}  // namespace
}  // namespace c2fmae::data
