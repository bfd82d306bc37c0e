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

}  // namespace
}  // namespace c2fmae::models
