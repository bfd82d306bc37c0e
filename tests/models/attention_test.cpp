#include "c2fmae/models/attention.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(Attention, MatchesExplicitSoftmaxAttention) {
  testing::seed(1);
  Attention attn(AttentionOptions(16, 4));
  auto x = torch::randn({2, 5, 16});
  auto y = attn(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  auto qkv = torch::matmul(x, attn->qkv->weight.t()) + attn->qkv->bias;
  auto parts = qkv.view({2, 5, 3, 4, 4}).permute({2, 0, 3, 1, 4});
  auto a = (torch::matmul(parts[0], parts[1].transpose(-2, -1)) / 2.0).softmax(-1);
  auto o = torch::matmul(a, parts[2]).transpose(1, 2).reshape({2, 5, 16});
  testing::expect_close(y, torch::matmul(o, attn->proj->weight.t()) + attn->proj->bias, 1e-5, 1e-6);
  EXPECT_THROW(Attention(AttentionOptions(10, 4)), c10::Error);
}

}  // namespace
}  // namespace c2fmae::models
