#include "c2fmae/models/cross_block.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(CrossBlock, ShapeResidualAndContextDependence) {
  testing::seed(5);
  CrossBlock block(BlockOptions(16, 2));
  auto x = torch::randn({2, 5, 16});
  auto ctx = torch::randn({2, 11, 16});
  ASSERT_EQ(block(x, ctx).sizes(), x.sizes());
  EXPECT_FALSE(torch::allclose(block(x, ctx), block(x, torch::randn({2, 11, 16}))));
  torch::NoGradGuard g;
  block->cross_attn->proj->weight.zero_();
  block->cross_attn->proj->bias.zero_();
  block->mlp->fc2->weight.zero_();
  block->mlp->fc2->bias.zero_();
  EXPECT_TRUE(torch::equal(block(x, ctx), x));
}

}  // namespace
}  // namespace c2fmae::models
