#include "c2fmae/models/block.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(Block, PreNormResidualsAndTimmNames) {
  testing::seed(4);
  Block block(BlockOptions(16, 4));
  auto x = torch::randn({2, 7, 16});
  ASSERT_EQ(block(x).sizes(), x.sizes());
  std::vector<std::string> names;
  for (const auto& p : block->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names, (std::vector<std::string>{"norm1.weight", "norm1.bias", "attn.qkv.weight",
                                             "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                                             "norm2.weight", "norm2.bias", "mlp.fc1.weight",
                                             "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"}));
  EXPECT_DOUBLE_EQ(block->norm1->options.eps(), 1e-6);
  // With both branch outputs zeroed the block is the identity (residual connections).
  torch::NoGradGuard g;
  block->attn->proj->weight.zero_();
  block->attn->proj->bias.zero_();
  block->mlp->fc2->weight.zero_();
  block->mlp->fc2->bias.zero_();
  EXPECT_TRUE(torch::equal(block(x), x));
}

TEST(DropPath, IdentityInEvalAndScaledByOneOverKeepInTraining) {
  testing::seed(5);
  auto x = torch::randn({4000, 3, 2});
  EXPECT_TRUE(torch::equal(drop_path(x, 0.25, /*training=*/false), x));
  EXPECT_TRUE(torch::equal(drop_path(x, 0.0, /*training=*/true), x));
  const auto y = drop_path(x, 0.25, /*training=*/true);
  // Each sample is either dropped whole or kept and scaled by 1 / 0.75 (timm's DropPath).
  const auto ratio = y / x;
  int64_t kept = 0;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto r = ratio[i];
    const bool dropped = torch::equal(y[i], torch::zeros_like(y[i]));
    if (!dropped) {
      EXPECT_TRUE(torch::allclose(r, torch::full_like(r, 1.0 / 0.75), 1e-6, 1e-6)) << i;
      ++kept;
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / x.size(0), 0.75, 0.03);
  EXPECT_THROW(drop_path(x, 1.0, true), c10::Error);
}

TEST(DropPath, BlockDropsWholeBranchesOnlyInTraining) {
  testing::seed(6);
  Block block(BlockOptions(16, 4).drop_path(0.5));
  auto x = torch::randn({64, 5, 16});
  block->eval();
  const auto a = block(x), b = block(x);
  EXPECT_TRUE(torch::equal(a, b));  // deterministic in eval
  block->train();
  torch::NoGradGuard g;
  // With the MLP branch zeroed, a sample whose attention branch is dropped is unchanged.
  block->mlp->fc2->weight.zero_();
  block->mlp->fc2->bias.zero_();
  const auto y = block(x);
  int64_t unchanged = 0;
  for (int64_t i = 0; i < x.size(0); ++i) unchanged += torch::equal(y[i], x[i]);
  EXPECT_GT(unchanged, 16);
  EXPECT_LT(unchanged, 48);
}

}  // namespace
}  // namespace c2fmae::models
