#include "c2fmae/losses/semantic_loss.h"

#include "test_helpers.h"

namespace c2fmae::losses {
namespace {

TEST(SemanticLoss, CrossEntropyOnMaskedTokensOnly) {
  testing::seed(15);
  // q = 1 (one 1/4-res pixel per token), 2 tokens, 4 classes.
  auto all = torch::randn({1, 2, 4});
  auto target = torch::tensor({{{2, 1}}}, torch::kLong);
  auto rows = testing::rows_of(torch::tensor({{true, false}}));
  auto logits = testing::take_rows(all, rows);
  auto expected = -torch::log_softmax(all[0][0], 0)[2];
  for (auto r : {Reduction::kPixels, Reduction::kSamples}) {
    EXPECT_NEAR(semantic_loss(logits, target, rows, 4, r).value().item<double>(),
                expected.item<double>(), 1e-6);
    // Ignore pixels do not count; all ignored gives 0, not NaN.
    auto ignored = torch::tensor({{{255, 1}}}, torch::kLong);
    EXPECT_EQ(semantic_loss(logits, ignored, rows, 4, r).value().item<double>(), 0.0);
  }
}

TEST(SemanticLoss, QuarterResolutionLayoutAndVisibleTargetsUnread) {
  testing::seed(16);
  // q = 2: each token has 2x2 pixels, logits laid out (pixel, class).
  auto all = torch::randn({2, 4, 2 * 2 * 3}, torch::requires_grad());
  auto target = torch::randint(0, 3, {2, 4, 4});
  auto rows =
      testing::rows_of(torch::tensor({{true, false, true, true}, {false, false, true, false}}));
  auto logits = testing::take_rows(all, rows);
  auto loss = semantic_loss(logits, target, rows, 3).value();
  // Visible tokens' targets changed (patch 1 of sample 0 = rows 0-1, cols 2-3).
  auto changed = target.clone();
  changed.index_put_(
      {0, torch::indexing::Slice(0, 2), torch::indexing::Slice(2, 4)},
      (target.index({0, torch::indexing::Slice(0, 2), torch::indexing::Slice(2, 4)}) + 1) % 3);
  changed.index_put_({1, torch::indexing::Slice(0, 2), torch::indexing::Slice(0, 2)}, 255);
  EXPECT_EQ(semantic_loss(logits, changed, rows, 3).value().item<double>(), loss.item<double>());
  loss.backward();
  EXPECT_EQ(all.grad()[0][1].abs().sum().item<double>(), 0.0);  // visible: no gradient
  EXPECT_GT(all.grad()[0][0].abs().sum().item<double>(), 0.0);
}

TEST(SemanticLoss, PixelsWeighSamplesByMaskedCountSamplesAverageEachSample) {
  testing::seed(24);
  // q = 1, 4 tokens, 3 classes; sample 0 has 3 masked tokens, sample 1 has 1.
  auto all = torch::randn({2, 4, 3});
  auto target = torch::randint(0, 3, {2, 2, 2});
  auto rows =
      testing::rows_of(torch::tensor({{true, true, true, false}, {false, false, true, false}}));
  auto ce = torch::nn::functional::cross_entropy(
      testing::take_rows(all, rows), target.flatten().index_select(0, rows),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  auto logits = testing::take_rows(all, rows);
  EXPECT_NEAR(semantic_loss(logits, target, rows, 3, Reduction::kPixels).value().item<double>(),
              ce.mean().item<double>(), 1e-6);
  const double per_sample = (ce.narrow(0, 0, 3).mean() + ce[3]).item<double>() / 2;
  EXPECT_NEAR(semantic_loss(logits, target, rows, 3, Reduction::kSamples).value().item<double>(),
              per_sample, 1e-6);
}

}  // namespace
}  // namespace c2fmae::losses
