#include "c2fmae/models/instance_adapter.h"

#include "c2fmae/data/instance_ids.h"
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

TEST(InstanceAdapter, BoundariesMarkIdChangesWithinACellOnly) {
  auto ids = torch::tensor({{{1, 1, 2, 2}, {1, 1, 2, 2}}}, torch::kLong);
  // Cells of 2 pixels: the change between columns 1 and 2 crosses a cell border.
  EXPECT_TRUE(instance_boundaries(ids, 2).equal(torch::zeros({1, 1, 2, 4})));
  auto b = instance_boundaries(ids, 4);
  EXPECT_TRUE(b.equal(torch::tensor({{{{0., 1., 1., 0.}, {0., 1., 1., 0.}}}})));
  auto rows = torch::tensor({{{1, 1}, {1, 1}, {3, 1}, {1, 1}}}, torch::kLong);
  EXPECT_TRUE(instance_boundaries(rows, 2).equal(
      torch::tensor({{{{0., 0.}, {0., 0.}, {1., 1.}, {1., 0.}}}})));
}

TEST(InstanceAdapter, VisiblePatchTokensIgnoreTheirNeighbours) {
  // A patch's token depends on its own pixels only: what continues across its border
  // (the same instance, or another) leaves it unchanged.
  testing::seed(9);
  InstanceAdapter a(InstanceAdapterOptions(16, 32).num_slots(8).slot_dim(6));
  a->eval();
  // 32 px image: 8 x 8 label map, 2 x 2 patches of 4 x 4 pixels.
  auto ids = torch::zeros({1, 8, 8}, torch::kLong);
  ids.index_put_({0, torch::indexing::Slice(0, 4), torch::indexing::Slice(0, 4)}, 1);
  auto continued = ids.clone();
  continued.index_put_({0, torch::indexing::Slice(0, 4), torch::indexing::Slice(4, 8)}, 1);
  auto t = a(ids), u = a(continued);
  EXPECT_TRUE(torch::equal(t[0][0], u[0][0]));   // patch 0: same pixels
  EXPECT_FALSE(torch::equal(t[0][1], u[0][1]));  // patch 1: its own pixels changed
}

TEST(InstanceAdapter, OutputInvariantToRelabellingIdsOnceCanonical) {
  testing::seed(8);
  InstanceAdapter a(InstanceAdapterOptions(16, 32).num_slots(8).slot_dim(6));
  auto raw = testing::random_maps(3, 16, 6, 2).instance;  // a 64 px image's label map
  auto relabelled = relabel(raw, 11);
  ASSERT_FALSE(relabelled.equal(raw));
  auto batch = data::canonical_instance_ids(raw, 8);
  auto other = data::canonical_instance_ids(relabelled, 8);
  a->eval();
  EXPECT_TRUE(torch::equal(a(batch), a(other)));
  // Training draws a random slot permutation: same random state, same output.
  a->train();
  torch::manual_seed(5);
  auto t1 = a(batch);
  torch::manual_seed(5);
  auto t2 = a(other);
  EXPECT_TRUE(torch::equal(t1, t2));
  // A different partition of the pixels does change the tokens.
  a->eval();
  auto merged = torch::where(batch != 0, 1, 0);
  EXPECT_FALSE(torch::allclose(a(batch), a(merged)));
}

}  // namespace
}  // namespace c2fmae::models
