#include "c2fmae/masking/random_generator.h"

#include "c2fmae/core/mask.h"
#include "masking/mask_spec.h"
#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

TEST(RandomGenerator, ExactVisibleCountsAndSeededDeterminism) {
  RandomGenerator gen(testing::mask_spec(3, 98), 1.0);
  Batch b;
  b.label = torch::zeros({16}, torch::kLong);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto mask = gen.generate(b, seed);
    EXPECT_NO_THROW(check_mask(mask, 3, 196, 98));
  }
  EXPECT_TRUE(gen.generate(b, 5).equal(gen.generate(b, 5)));
  EXPECT_FALSE(gen.generate(b, 5).equal(gen.generate(b, 6)));
}

TEST(RandomGenerator, MaeModeKeeps49Of196RgbTokens) {
  RandomGenerator gen(testing::mask_spec(1, 49), 1.0);
  Batch b;
  b.rgb = torch::zeros({8, 3, 224, 224});
  auto mask = gen.generate(b, 0);
  EXPECT_NO_THROW(check_mask(mask, 1, 196, 49));
  // Samples differ from each other (per-sample randomness).
  EXPECT_FALSE(mask[0].equal(mask[1]));
}

}  // namespace
}  // namespace c2fmae::masking

namespace c2fmae::masking {
namespace {

TEST(RandomGenerator, RgbOnlySamplesSpendTheWholeBudgetOnPixels) {
  auto s = testing::mask_spec(3, 98);
  Batch b;
  b.label = torch::zeros({400}, torch::kLong);
  // 0: as before the key existed, bit for bit.
  EXPECT_TRUE(RandomGenerator(s, 1.0).generate(b, 3).equal(
      RandomGenerator(testing::mask_spec(3, 98), 1.0).generate(b, 3)));
  s.rgb_only_prob = 1.0;
  auto mask = RandomGenerator(s, 1.0).generate(b, 3);
  EXPECT_NO_THROW(check_mask(mask, 3, 196, 98));
  const auto visible = mask.logical_not().sum(2);  // [B, M]
  EXPECT_TRUE(visible.select(1, 2).eq(98).all().item<bool>());
  s.rgb_only_prob = 0.5;
  mask = RandomGenerator(s, 1.0).generate(b, 4);
  const double share =
      mask.logical_not().sum(2).select(1, 2).eq(98).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(share, 0.42);  // 0.5 of the samples, plus Dirichlet draws that give RGB all
  EXPECT_LT(share, 0.6);
}

}  // namespace
}  // namespace c2fmae::masking
