#include "c2fmae/core/mask.h"

#include "test_helpers.h"

namespace c2fmae {
namespace {

TEST(Mask, VisibleIndicesAscendingPerSample) {
  auto mask = torch::ones({2, 2, 3}, torch::kBool);
  mask[0][0][1] = kVisible;
  mask[0][1][2] = kVisible;
  mask[1][0][0] = kVisible;
  mask[1][1][0] = kVisible;
  auto idx = visible_token_indices(mask);
  EXPECT_TRUE(idx.equal(torch::tensor({1, 5, 0, 3}, torch::kLong).view({2, 2}))) << idx;
  EXPECT_NO_THROW(check_mask(mask, 2, 3, 2));
}

TEST(Mask, CheckRejectsWrongCountsShapesAndDtypes) {
  auto mask = torch::ones({2, 1, 4}, torch::kBool);
  mask[0][0][0] = kVisible;
  EXPECT_THROW(check_mask(mask, 1, 4, 1), c10::Error);  // sample 1 has none visible
  EXPECT_THROW(visible_token_indices(mask), c10::Error);
  mask[1][0][3] = kVisible;
  EXPECT_NO_THROW(check_mask(mask, 1, 4, 1));
  EXPECT_THROW(check_mask(mask, 2, 4, 1), c10::Error);
  EXPECT_THROW(check_mask(mask.to(torch::kFloat), 1, 4, 1), c10::Error);
  EXPECT_TRUE(visible_counts(mask).equal(torch::tensor({1, 1}, torch::kLong)));
}

}  // namespace
}  // namespace c2fmae
