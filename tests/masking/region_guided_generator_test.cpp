#include "c2fmae/masking/region_guided_generator.h"

#include "c2fmae/core/mask.h"
#include "c2fmae/masking/instance_generator.h"
#include "c2fmae/masking/semantic_generator.h"
#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

MaskSpec small_spec(int64_t visible) {
  MaskSpec s;
  s.modalities = {Modality::kSemantic, Modality::kInstance, Modality::kRgb};
  s.grid = 4;
  s.patch = 4;
  s.num_visible = visible;
  return s;
}

/// 16x16 maps (4x4 patches of 4 px) split into four 8x8 quadrants labelled 0..3.
torch::Tensor quadrants(int64_t batch) {
  auto q = torch::tensor({{0, 1}, {2, 3}}, torch::kLong);
  return q.repeat_interleave(8, 0).repeat_interleave(8, 1).unsqueeze(0).repeat({batch, 1, 1});
}

/// Visible tokens of sample i inside quadrant k, over all modalities.
int64_t visible_in_quadrant(const torch::Tensor& mask, int64_t i, int64_t k) {
  auto grid = mask[i].logical_not().view({3, 4, 4});
  const int64_t r = (k / 2) * 2, c = (k % 2) * 2;
  return grid.narrow(1, r, 2).narrow(2, c, 2).sum().item<int64_t>();
}

TEST(RegionGuidedGenerator, SemanticHidesWholeRegionsInEveryModality) {
  SemanticGenerator gen(small_spec(20), 0.5, 1.0);
  Batch b;
  b.semantic = quadrants(8);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    auto mask = gen.generate(b, seed);
    ASSERT_NO_THROW(check_mask(mask, 3, 16, 20));
    for (int64_t i = 0; i < 8; ++i) {
      // 0.5 of 16 patches = two quadrants hidden whole; the 20 visible tokens come from the
      // other two quadrants' 24 tokens, so each of those keeps at least 8.
      int64_t empty = 0;
      for (int64_t k = 0; k < 4; ++k) {
        const auto v = visible_in_quadrant(mask, i, k);
        if (v == 0)
          ++empty;
        else
          EXPECT_GE(v, 8);
      }
      EXPECT_EQ(empty, 2);
    }
  }
}

TEST(RegionGuidedGenerator, InstanceHidesInstancesNeverBackground) {
  InstanceGenerator gen(small_spec(20), 0.25, 1.0);
  Batch b;
  // Quadrant 3 is an instance with an arbitrary id; the rest is background.
  b.instance = torch::where(quadrants(4) == 3, 4242, 0);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    auto mask = gen.generate(b, seed);
    ASSERT_NO_THROW(check_mask(mask, 3, 16, 20));
    for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(visible_in_quadrant(mask, i, 3), 0);
  }
}

TEST(RegionGuidedGenerator, ExactCountsOnDegenerateMaps) {
  SemanticGenerator sem(small_spec(20), 0.9, 1.0);
  InstanceGenerator ins(small_spec(20), 0.9, 1.0);
  Batch one_region;
  one_region.semantic = torch::full({4, 16, 16}, 5, torch::kLong);
  Batch ignore_only;
  ignore_only.semantic = torch::full({4, 16, 16}, 255, torch::kLong);
  Batch no_instances;
  no_instances.instance = torch::zeros({4, 16, 16}, torch::kLong);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    EXPECT_NO_THROW(check_mask(sem.generate(one_region, seed), 3, 16, 20));
    EXPECT_NO_THROW(check_mask(sem.generate(ignore_only, seed), 3, 16, 20));
    EXPECT_NO_THROW(check_mask(ins.generate(no_instances, seed), 3, 16, 20));
  }
}

TEST(RegionGuidedGenerator, ExactCountsOnRandomMapsAtFullSize) {
  MaskSpec spec;
  spec.modalities = {Modality::kSemantic, Modality::kInstance, Modality::kRgb};
  spec.num_visible = 98;
  for (double ratio : {0.0, 0.5, 0.9, 1.0}) {
    SemanticGenerator sem(spec, ratio, 1.0);
    InstanceGenerator ins(spec, ratio, 0.5);
    for (uint64_t seed = 0; seed < 3; ++seed) {
      auto b = testing::random_maps(6, 224, 1 + seed * 3, seed);
      EXPECT_NO_THROW(check_mask(sem.generate(b, seed), 3, 196, 98)) << ratio;
      EXPECT_NO_THROW(check_mask(ins.generate(b, seed), 3, 196, 98)) << ratio;
    }
  }
}

TEST(RegionGuidedGenerator, HideRegionsReachesTargetAndKeepsMinimum) {
  // Regions of sizes 4, 4, 4, 4 (labels 0..3).
  std::vector<int64_t> labels = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  std::vector<bool> all(16, true);
  for (uint64_t s = 0; s < 20; ++s) {
    Rng rng(s);
    auto h = hide_regions(rng, labels, all, 6, 0);
    EXPECT_EQ(std::count(h.begin(), h.end(), true), 8);  // whole regions: 6 -> 8
    for (int r = 0; r < 4; ++r) {
      EXPECT_TRUE(h[4 * r] == h[4 * r + 1] && h[4 * r] == h[4 * r + 2] && h[4 * r] == h[4 * r + 3]);
    }
    Rng rng2(s);
    auto k = hide_regions(rng2, labels, all, 16, 8);  // must keep 8 patches
    EXPECT_EQ(std::count(k.begin(), k.end(), true), 8);
  }
}

}  // namespace
}  // namespace c2fmae::masking
