#include "c2fmae/data/instance_ids.h"

#include "c2fmae/core/modality.h"
#include "test_helpers.h"

namespace c2fmae::data {
namespace {

TEST(InstanceIds, RenumberedByDecreasingAreaThenFirstAppearance) {
  // Sample 0: id 900 (2 px), 17 (3 px); sample 1: 5 (5 px), 3 (1 px), 8 (1 px, later).
  auto ids = torch::tensor({{{0, 900, 900}, {17, 17, 17}}, {{5, 5, 5}, {5, 5, 3}}}, torch::kLong);
  ids.index_put_({1, 0, 0}, 8);
  auto c = canonical_instance_ids(ids, 64);
  EXPECT_EQ(c.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(
      c.to(torch::kLong)
          .equal(torch::tensor({{{0, 2, 2}, {1, 1, 1}}, {{2, 1, 1}, {1, 1, 3}}}, torch::kLong)))
      << c;
  // Any relabelling of the ids gives the same canonical map.
  auto relabelled = torch::where(ids == 900, 4, torch::where(ids == 17, 65535, ids));
  EXPECT_TRUE(canonical_instance_ids(relabelled, 64).equal(c));
  EXPECT_TRUE(canonical_instance_ids(ids[1], 64).equal(c[1]));  // [H, W] too
}

TEST(InstanceIds, InstancesPastTheBoundOverflowSmallestFirst) {
  auto ids = torch::tensor({{{7, 7, 7, 9}, {7, 6, 6, 0}}}, torch::kLong);
  auto c = canonical_instance_ids(ids, 2);
  ASSERT_EQ(kInstanceOverflow, 255);
  EXPECT_TRUE(
      c.to(torch::kLong).equal(torch::tensor({{{1, 1, 1, 255}, {1, 2, 2, 0}}}, torch::kLong)))
      << c;
  EXPECT_THROW(canonical_instance_ids(ids, 0), c10::Error);
  EXPECT_THROW(canonical_instance_ids(ids, kMaxCanonicalInstances + 1), c10::Error);
}

}  // namespace
}  // namespace c2fmae::data
