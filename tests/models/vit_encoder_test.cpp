#include "c2fmae/models/vit_encoder.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(VitEncoder, DepthShapeAndFinalNorm) {
  testing::seed(9);
  VitEncoder enc(VitEncoderOptions(24, 3, 4));
  EXPECT_EQ(enc->blocks->size(), 3u);
  auto x = torch::randn({2, 10, 24});
  auto y = enc(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  // Output is LayerNorm-ed (unit weight, zero bias at construction): zero mean per token.
  EXPECT_LT(y.mean(-1).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace c2fmae::models
