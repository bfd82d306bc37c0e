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

}  // namespace
}  // namespace c2fmae::masking
