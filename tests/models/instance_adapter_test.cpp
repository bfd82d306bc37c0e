#include "c2fmae/models/instance_adapter.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

/// Applies a random bijection of the non-zero ids of `ids`.
torch::Tensor relabel(const torch::Tensor& ids, uint64_t seed) {
  torch::manual_seed(seed);
  auto table = torch::randperm(65535) + 1;  // id k -> table[k - 1]
  auto mapped = table.index_select(0, (ids - 1).clamp_min(0).flatten()).view_as(ids);
  return torch::where(ids == 0, 0, mapped);
}

TEST(InstanceAdapter, CanonicalIdsFollowFirstAppearance) {
  auto ids = torch::tensor({{{0, 900, 900}, {17, 17, 0}}, {{5, 5, 5}, {5, 5, 3}}}, torch::kLong);
  auto c = canonical_instance_ids(ids);
  EXPECT_TRUE(
      c.equal(torch::tensor({{{0, 1, 1}, {2, 2, 0}}, {{1, 1, 1}, {1, 1, 2}}}, torch::kLong)))
      << c;
  EXPECT_TRUE(canonical_instance_ids(relabel(ids, 3)).equal(c));
}

TEST(InstanceAdapter, BoundariesMarkIdChanges) {
  auto ids = torch::tensor({{{1, 1, 2}, {1, 1, 2}}}, torch::kLong);
  auto b = instance_boundaries(ids);
  EXPECT_TRUE(b.equal(torch::tensor({{{{0., 1., 1.}, {0., 1., 1.}}}})));
}

TEST(InstanceAdapter, OutputInvariantToRelabellingIds) {
  testing::seed(8);
  InstanceAdapter a(InstanceAdapterOptions(16, 32).num_slots(8).slot_dim(6));
  auto batch = testing::random_maps(3, 64, 6, 2).instance;
  auto relabelled = relabel(batch, 11);
  ASSERT_FALSE(relabelled.equal(batch));
  a->eval();
  EXPECT_TRUE(torch::equal(a(batch), a(relabelled)));
  // Training draws a random slot permutation: same random state, same output.
  a->train();
  torch::manual_seed(5);
  auto t1 = a(batch);
  torch::manual_seed(5);
  auto t2 = a(relabelled);
  EXPECT_TRUE(torch::equal(t1, t2));
  // A different partition of the pixels does change the tokens.
  a->eval();
  auto merged = torch::where(batch != 0, 1, 0);
  EXPECT_FALSE(torch::allclose(a(batch), a(merged)));
}

}  // namespace
}  // namespace c2fmae::models
