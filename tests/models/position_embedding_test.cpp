#include "c2fmae/models/position_embedding.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(PositionEmbedding, MaeSinCosLayout) {
  auto pe = sincos_2d_embedding(8, 3);  // dim/4 = 2 frequencies: 1 and 1/100
  ASSERT_EQ(pe.sizes(), (torch::IntArrayRef{9, 8}));
  // Patch 5 = row 1, column 2.
  const double c = 2, r = 1;
  std::vector<double> expect = {std::sin(c), std::sin(c / 100), std::cos(c), std::cos(c / 100),
                                std::sin(r), std::sin(r / 100), std::cos(r), std::cos(r / 100)};
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(pe[5][k].item<double>(), expect[k], 1e-7) << k;
  EXPECT_EQ(pe.scalar_type(), torch::kFloat);
  EXPECT_THROW(sincos_2d_embedding(6, 3), c10::Error);
}

TEST(PositionEmbedding, ClassTokenRowIsZeroAndFirst) {
  auto pe = sincos_2d_embedding(8, 3, /*cls_token=*/true);
  ASSERT_EQ(pe.sizes(), (torch::IntArrayRef{10, 8}));
  EXPECT_TRUE(torch::equal(pe[0], torch::zeros({8})));
  EXPECT_TRUE(torch::equal(pe.narrow(0, 1, 9), sincos_2d_embedding(8, 3)));
}

}  // namespace
}  // namespace c2fmae::models
