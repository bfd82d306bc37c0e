#include "c2fmae/data/synthetic_shapes.h"

#include "c2fmae/core/modality.h"
#include "test_helpers.h"

namespace c2fmae::data {
namespace {

TEST(SyntheticShapes, DeterministicExactMasksAndLabels) {
  SyntheticShapes shapes(100, 3);
  auto a = shapes.get(5, {}, 64), b = shapes.get(5, {}, 64);
  EXPECT_TRUE(a.rgb.equal(b.rgb));
  EXPECT_TRUE(a.instance.equal(b.instance));
  EXPECT_EQ(a.rgb.sizes(), (torch::IntArrayRef{3, 64, 64}));
  EXPECT_EQ(a.rgb.scalar_type(), torch::kUInt8);
  EXPECT_FALSE(a.rgb.equal(shapes.get(6, {}, 64).rgb));
  EXPECT_FALSE(a.rgb.equal(SyntheticShapes(100, 4).get(5, {}, 64).rgb));
  for (int64_t i = 0; i < 30; ++i) {
    auto s = shapes.get(i, {}, 48);
    EXPECT_GE(s.semantic.min().item<int64_t>(), 0);
    EXPECT_LT(s.semantic.max().item<int64_t>(), SyntheticShapes::kNumSemanticClasses);
    EXPECT_GE(s.label, 0);
    EXPECT_LT(s.label, SyntheticShapes::kNumShapes);
    // Instances and object classes coincide: instance pixels are exactly the shape pixels.
    auto object = s.semantic >= SyntheticShapes::kNumStuff;
    EXPECT_TRUE(object.equal(s.instance != kNoInstance));
    // Between 1 and 5 objects, ids within 16 bits.
    auto ids = std::get<0>(at::_unique2(s.instance.flatten()));
    EXPECT_LE(ids.numel(), 6);
    EXPECT_LE(s.instance.max().item<int64_t>(), 65535);
    // Each instance has one semantic class.
    for (int64_t k = 0; k < ids.numel(); ++k) {
      const auto id = ids[k].item<int64_t>();
      if (id == 0) continue;
      auto classes = std::get<0>(at::_unique2(s.semantic.masked_select(s.instance == id)));
      EXPECT_EQ(classes.numel(), 1);
    }
  }
  EXPECT_THROW(shapes.get(100, {}, 8), c10::Error);
}

TEST(SyntheticShapes, CropsRenderTheSameSceneAndFlipMirrors) {
  SyntheticShapes shapes(10, 1);
  auto full = shapes.get(2, {}, 64);
  Augmentation left;
  left.box = {0.0, 0.0, 0.5, 0.5};  // top-left quarter at the same pixel density
  auto crop = shapes.get(2, left, 32);
  EXPECT_TRUE(crop.semantic.equal(full.semantic.narrow(0, 0, 32).narrow(1, 0, 32)));
  Augmentation flip;
  flip.flip = true;
  EXPECT_TRUE(shapes.get(2, flip, 64).instance.equal(full.instance.flip(1)));
  EXPECT_EQ(shapes.get(2, left, 32).label, full.label);  // the label is the image's
}

}  // namespace
}  // namespace c2fmae::data
