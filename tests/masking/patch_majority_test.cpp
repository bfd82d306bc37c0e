#include "c2fmae/masking/patch_majority.h"

#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

TEST(PatchMajority, MostFrequentLabelWithSmallestOnTies) {
  auto map = torch::zeros({1, 2, 4}, torch::kLong);  // two 2x2 patches
  // Patch 0: {7, 7, 7, 3} -> 7. Patch 1: {9, 9, 4, 4} -> tie -> 4.
  map.index_put_({0, 0, 0}, 7);
  map.index_put_({0, 0, 1}, 7);
  map.index_put_({0, 1, 0}, 7);
  map.index_put_({0, 1, 1}, 3);
  map.index_put_({0, 0, 2}, 9);
  map.index_put_({0, 0, 3}, 9);
  map.index_put_({0, 1, 2}, 4);
  map.index_put_({0, 1, 3}, 4);
  auto maj = patch_majority(map, 2);
  EXPECT_TRUE(maj.equal(torch::tensor({{7, 4}}, torch::kLong))) << maj;
}

TEST(PatchMajority, AgreesWithBruteForceOnRandomMaps) {
  testing::seed(4);
  auto map = torch::randint(0, 4, {3, 8, 8});
  auto maj = patch_majority(map, 4);
  auto pix = map.view({3, 2, 4, 2, 4}).permute({0, 1, 3, 2, 4}).reshape({3, 4, 16});
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t l = 0; l < 4; ++l) {
      auto counts = torch::bincount(pix[b][l], {}, 4);
      EXPECT_EQ(maj[b][l].item<int64_t>(), counts.argmax().item<int64_t>());
    }
  }
}

TEST(PatchMajority, RegionsAtFullAndQuarterResolutionAgree) {
  testing::seed(5);
  // A quarter-resolution map of a 224 px image (56 x 56), every third row one label to make
  // ties, and its nearest upsampling to full resolution.
  auto quarter = torch::randint(0, 4, {3, 56, 56});
  quarter.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, 56, 3)}, 2);
  auto full = quarter.repeat_interleave(4, 1).repeat_interleave(4, 2);
  auto regions = patch_regions(quarter, 14);
  EXPECT_EQ(regions.sizes(), (std::vector<int64_t>{3, 196}));
  EXPECT_EQ(regions.scalar_type(), torch::kLong);
  EXPECT_TRUE(regions.equal(patch_majority(quarter, 4)));
  EXPECT_TRUE(regions.equal(patch_regions(full, 14)));
  EXPECT_TRUE(regions.equal(patch_regions(quarter.to(torch::kByte), 14)));  // uint8 ids
  EXPECT_TRUE(regions.equal(patch_regions(quarter.to(torch::kInt), 14)));
}

TEST(PatchMajority, RegionsRejectMapsThatDoNotFitTheGrid) {
  EXPECT_THROW(patch_regions(torch::zeros({1, 50, 50}, torch::kLong), 14), c10::Error);
  EXPECT_THROW(patch_regions(torch::zeros({1, 56, 112}, torch::kLong), 14), c10::Error);
  EXPECT_THROW(patch_regions(torch::zeros({56, 56}, torch::kLong), 14), c10::Error);
  EXPECT_THROW(patch_regions(torch::zeros({1, 56, 56}), 14), c10::Error);  // float labels
  EXPECT_THROW(patch_regions(torch::Tensor(), 14), c10::Error);
  try {
    patch_regions(torch::zeros({1, 50, 50}, torch::kLong), 14);
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("50x50 map does not divide into a 14x14 grid"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace c2fmae::masking
