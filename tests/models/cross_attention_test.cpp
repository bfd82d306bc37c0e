#include "c2fmae/models/cross_attention.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(CrossAttention, QueriesAttendOverContext) {
  testing::seed(2);
  CrossAttention ca(CrossAttentionOptions(16, 2));
  auto x = torch::randn({3, 4, 16});
  auto ctx = torch::randn({3, 9, 16});
  ASSERT_EQ(ca(x, ctx).sizes(), x.sizes());
  // A context of one repeated token: every query gets proj(value(token)).
  auto token = ctx.narrow(1, 0, 1);
  auto wv = ca->kv->weight.narrow(0, 16, 16), bv = ca->kv->bias.narrow(0, 16, 16);
  auto expected = torch::linear(torch::linear(token, wv, bv), ca->proj->weight, ca->proj->bias);
  testing::expect_close(ca(x, token.expand({3, 9, 16})), expected.expand({3, 4, 16}), 1e-5, 1e-6);
  // The context matters.
  EXPECT_FALSE(torch::allclose(ca(x, ctx), ca(x, ctx.flip(1).narrow(1, 0, 5))));
}

}  // namespace
}  // namespace c2fmae::models
