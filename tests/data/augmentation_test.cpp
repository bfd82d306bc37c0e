#include "c2fmae/data/augmentation.h"

#include "test_helpers.h"

namespace c2fmae::data {
namespace {

TEST(Augmentation, CropBoxesStayInsideWithAreaAndRatioInRange) {
  AugmentationOptions o;
  int flips = 0;
  for (uint64_t s = 0; s < 500; ++s) {
    auto a = draw_augmentation(s, 500, 375, o);
    EXPECT_GE(a.box.x0, 0.0);
    EXPECT_GE(a.box.y0, 0.0);
    EXPECT_LE(a.box.x0 + a.box.w, 1.0 + 1e-12);
    EXPECT_LE(a.box.y0 + a.box.h, 1.0 + 1e-12);
    const double area = a.box.w * a.box.h;
    EXPECT_GE(area, 0.2 - 1e-9);
    const double ratio = a.box.w * 500 / (a.box.h * 375);
    if (area < 1.0 - 1e-9) {  // the fallback centre crop may clamp the ratio instead
      EXPECT_GE(ratio, 0.75 - 1e-9);
      EXPECT_LE(ratio, 4.0 / 3.0 + 1e-9);
    }
    flips += a.flip;
  }
  EXPECT_NEAR(flips / 500.0, 0.5, 0.08);
  auto a = draw_augmentation(7, 1, 1, o), b = draw_augmentation(7, 1, 1, o);
  EXPECT_EQ(a.box.x0, b.box.x0);
  o.enabled = false;
  auto whole = draw_augmentation(7, 1, 1, o);
  EXPECT_EQ(whole.box.w, 1.0);
  EXPECT_FALSE(whole.flip);
}

}  // namespace
}  // namespace c2fmae::data
