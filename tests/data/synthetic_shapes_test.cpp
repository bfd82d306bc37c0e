#include "c2fmae/data/synthetic_shapes.h"

#include "c2fmae/core/modality.h"
#include "c2fmae/train/dense_probe.h"
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

TEST(SyntheticShapes, TheLabelIsBalancedAndClearlyTheLargestVisibleObject) {
  // Its classes have names, so a head trained elsewhere is compared by them.
  const SyntheticShapes named(6, 0);
  ASSERT_EQ(named.class_names().size(), static_cast<size_t>(SyntheticShapes::kNumShapes));
  EXPECT_EQ(named.class_names()[0], SyntheticShapes::shape_names()[0]);
  SyntheticShapes shapes(600, 2);
  std::vector<int64_t> per_label(SyntheticShapes::kNumShapes, 0);
  double least_margin = 1e9;
  for (int64_t i = 0; i < 120; ++i) {
    // At 64 px over the whole scene the pixels are the label's counting grid.
    const auto s = shapes.get(i, {}, 64);
    EXPECT_EQ(s.label, i % SyntheticShapes::kNumShapes);
    ++per_label[s.label];
    auto ids = std::get<0>(at::_unique2(s.instance.masked_select(s.instance != kNoInstance)));
    std::vector<std::pair<int64_t, int64_t>> areas;  // (area, class)
    for (int64_t k = 0; k < ids.numel(); ++k) {
      const auto in = s.instance == ids[k];
      areas.emplace_back(in.sum().item<int64_t>(), s.semantic.masked_select(in)[0].item<int64_t>());
    }
    std::sort(areas.rbegin(), areas.rend());
    ASSERT_FALSE(areas.empty());
    EXPECT_EQ(areas[0].second, SyntheticShapes::kNumStuff + s.label) << "sample " << i;
    EXPECT_GE(areas[0].first, 0.03 * 64 * 64);
    if (areas.size() > 1) {
      least_margin = std::min(least_margin, static_cast<double>(areas[0].first) / areas[1].first);
    }
  }
  EXPECT_GE(least_margin, 1.5);
  for (auto n : per_label) EXPECT_EQ(n, 20);
}

TEST(SyntheticShapes, TrainingCropsKeepTheLabelledObject) {
  SyntheticShapes shapes(300, 4);
  SampleOptions options;
  options.img_size = options.label_size = 32;
  options.augmentation.scale_min = 0.15;
  options.augmentation.scale_max = 0.3;
  std::vector<float> rgb(3 * 32 * 32);
  std::vector<int64_t> sem(32 * 32), ins(32 * 32);
  int64_t shown = 0, n = 300;
  for (int64_t i = 0; i < n; ++i) {
    const auto label = shapes.load(i, 1000 + i, options, {rgb.data(), sem.data(), ins.data()});
    EXPECT_EQ(label, i % SyntheticShapes::kNumShapes);
    shown += std::count(sem.begin(), sem.end(), SyntheticShapes::kNumStuff + label) > 0;
  }
  // Small crops of a clearly largest object: it is in nearly every one.
  EXPECT_GE(shown, n * 97 / 100) << shown << " of " << n;
}

TEST(SyntheticShapes, APatchsPixelsTellItsStuffClassButNotItsShape) {
  // A linear classifier reading only one 8 x 8 patch's pixels (the dense probe on raw
  // pixels): stuff classes have their own colour and texture; shapes need the geometry.
  SyntheticShapes train(300, 5), test(300, 6);
  auto patches = [](const SyntheticShapes& set, torch::Tensor& x, torch::Tensor& y) {
    std::vector<torch::Tensor> xs, ys;
    for (int64_t i = 0; i < set.size(); ++i) {
      const auto s = set.get(i, {}, 64);
      // [3, 8, 8, 8, 8] -> [64 patches, 192 values]; the class of the patch's centre pixel.
      xs.push_back(s.rgb.to(torch::kFloat)
                       .div(255)
                       .view({3, 8, 8, 8, 8})
                       .permute({1, 3, 0, 2, 4})
                       .reshape({64, 192}));
      ys.push_back(
          s.semantic.index({torch::indexing::Slice(4, 64, 8), torch::indexing::Slice(4, 64, 8)})
              .reshape({64}));
    }
    x = torch::cat(xs);
    y = torch::cat(ys);
  };
  torch::Tensor x, y, xt, yt;
  patches(train, x, y);
  patches(test, xt, yt);
  auto stuff_only = [](const torch::Tensor& c) {
    return c.masked_fill(c >= SyntheticShapes::kNumStuff, -1);
  };
  auto objects_only = [](const torch::Tensor& c) {
    return (c - SyntheticShapes::kNumStuff).masked_fill(c < SyntheticShapes::kNumStuff, -1);
  };
  const auto stuff =
      train::dense_probe(x, stuff_only(y), xt, stuff_only(yt), SyntheticShapes::kNumStuff, {});
  const auto shape =
      train::dense_probe(x, objects_only(y), xt, objects_only(yt), SyntheticShapes::kNumShapes, {});
  std::cout << "stuff class from a patch's pixels: " << stuff.mean_class_acc
            << " % mean class accuracy (majority " << stuff.prior_patch_acc
            << " % of patches, chance 25 %)\nshape class from a patch's pixels: "
            << shape.mean_class_acc << " % (chance 16.7 %)\n";
  EXPECT_GT(stuff.mean_class_acc, 90.0);
  EXPECT_LT(shape.mean_class_acc, 45.0);
}

}  // namespace
}  // namespace c2fmae::data
