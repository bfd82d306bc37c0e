#include "c2fmae/losses/instance_loss.h"

#include "test_helpers.h"

namespace c2fmae::losses {
namespace {

// Layout: 2 samples, 4 tokens of 2x2 pixels (1/4-res maps 4x4), embedding width 3.
torch::Tensor ids_map() {
  return torch::tensor({{{0, 0, 7, 7}, {0, 0, 7, 7}, {9, 9, 0, 0}, {9, 9, 0, 0}},
                        {{3, 3, 3, 3}, {3, 3, 3, 3}, {4, 4, 5, 5}, {4, 4, 5, 5}}},
                       torch::kLong);
}

using testing::rows_of;
using testing::take_rows;

TEST(InstanceLoss, InvariantToPermutingIds) {
  testing::seed(19);
  auto masked = torch::tensor({{true, true, true, false}, {true, false, true, true}});
  auto rows = rows_of(masked);
  auto emb = take_rows(torch::randn({2, 4, 12}), rows);
  auto ids = ids_map();
  for (bool background : {false, true}) {
    InstanceLossOptions o;
    o.background_cluster = background;
    auto loss = instance_loss(emb, ids, rows, 3, o).value();
    EXPECT_GT(loss.item<double>(), 0.0);
    auto permuted = torch::where(ids == 7, 9, torch::where(ids == 9, 64, ids));
    permuted = torch::where(ids == 3, 5, torch::where(ids == 5, 3, permuted));
    EXPECT_NEAR(instance_loss(emb, permuted, rows, 3, o).value().item<double>(),
                loss.item<double>(), 1e-6);
  }
}

TEST(InstanceLoss, BackgroundIsAClusterOrIgnoredAndOverflowIsIgnored) {
  testing::seed(23);
  auto masked = torch::ones({2, 4}, torch::kBool);
  auto rows = rows_of(masked);
  auto emb = take_rows(torch::randn({2, 4, 12}), rows);
  auto ids = ids_map();
  InstanceLossOptions ignore, cluster;
  cluster.background_cluster = true;
  const auto ignored = instance_loss(emb, ids, rows, 3, ignore).value().item<double>();
  EXPECT_NE(instance_loss(emb, ids, rows, 3, cluster).value().item<double>(), ignored);
  // Ignored background: moving it to another id past K (overflow) changes nothing.
  auto overflow = torch::where(ids == 0, 255, ids);
  EXPECT_NEAR(instance_loss(emb, overflow, rows, 3, ignore).value().item<double>(), ignored, 1e-6);
  EXPECT_NEAR(instance_loss(emb, overflow, rows, 3, cluster).value().item<double>(), ignored, 1e-6);
}

TEST(InstanceLoss, VisibleTokensTargetsAndEmbeddingsUnread) {
  testing::seed(20);
  auto all = torch::randn({2, 4, 12}, torch::requires_grad());
  auto masked = torch::tensor({{true, false, true, false}, {false, true, true, true}});
  auto rows = rows_of(masked);
  auto emb = take_rows(all, rows);
  auto ids = ids_map();
  auto loss = instance_loss(emb, ids, rows, 3).value();
  auto other = ids.clone();
  other.index_put_({0, torch::indexing::Slice(0, 2), torch::indexing::Slice(2, 4)}, 123);
  other.index_put_({1, torch::indexing::Slice(0, 2), torch::indexing::Slice(0, 2)}, 0);
  EXPECT_NEAR(instance_loss(emb, other, rows, 3).value().item<double>(), loss.item<double>(), 1e-7);
  loss.backward();
  EXPECT_EQ(all.grad()[0][1].abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::isfinite(all.grad()).all().item<bool>());
}

TEST(InstanceLoss, ZeroForWellSeparatedTightClustersPositiveWhenCollapsed) {
  auto ids = ids_map();
  auto rows = rows_of(torch::ones({2, 4}, torch::kBool));
  // Each pixel's embedding = a centre far from the others' (> 2 * delta_push apart).
  auto centre = [](int64_t id) { return torch::full({3}, static_cast<double>(id) * 4.0); };
  auto emb = torch::zeros({2, 4, 4, 3});
  auto pix = ids.view({2, 2, 2, 2, 2}).permute({0, 1, 3, 2, 4}).reshape({2, 4, 4});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t l = 0; l < 4; ++l)
      for (int64_t k = 0; k < 4; ++k) emb[b][l][k] = centre(pix[b][l][k].item<int64_t>());
  InstanceLossOptions no_reg;
  no_reg.weight_reg = 0.0;
  EXPECT_NEAR(instance_loss(emb.view({8, 12}), ids, rows, 3, no_reg).value().item<double>(), 0.0,
              1e-9);
  // All embeddings equal: push = (2 * delta_push)^2 = 9 per sample with >= 2 clusters.
  auto collapsed = torch::zeros({8, 12});
  EXPECT_NEAR(instance_loss(collapsed, ids, rows, 3, no_reg).value().item<double>(), 9.0, 1e-4);
  no_reg.background_cluster = true;
  EXPECT_NEAR(instance_loss(collapsed, ids, rows, 3, no_reg).value().item<double>(), 9.0, 1e-4);
}

}  // namespace
}  // namespace c2fmae::losses
