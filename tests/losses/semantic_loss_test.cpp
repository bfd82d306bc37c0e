#include "c2fmae/losses/semantic_loss.h"

#include "test_helpers.h"

namespace c2fmae::losses {
namespace {

TEST(SemanticLoss, CrossEntropyOnMaskedTokensOnly) {
  testing::seed(15);
  // q = 1 (one 1/4-res pixel per token), 2 tokens, 4 classes.
  auto logits = torch::randn({1, 2, 4});
  auto target = torch::tensor({{{2, 1}}}, torch::kLong);
  auto masked = torch::tensor({{true, false}});
  auto expected = -torch::log_softmax(logits[0][0], 0)[2];
  EXPECT_NEAR(semantic_loss(logits, target, masked, 4).item<double>(), expected.item<double>(),
              1e-6);
  // Ignore pixels do not count; all ignored gives 0, not NaN.
  auto ignored = torch::tensor({{{255, 1}}}, torch::kLong);
  EXPECT_EQ(semantic_loss(logits, ignored, masked, 4).item<double>(), 0.0);
}

TEST(SemanticLoss, QuarterResolutionLayoutAndVisibleTargetsUnread) {
  testing::seed(16);
  // q = 2: each token has 2x2 pixels, logits laid out (pixel, class).
  auto logits = torch::randn({2, 4, 2 * 2 * 3}, torch::requires_grad());
  auto target = torch::randint(0, 3, {2, 4, 4});
  auto masked = torch::tensor({{true, false, true, true}, {false, false, true, false}});
  auto loss = semantic_loss(logits, target, masked, 3);
  // Visible tokens' targets changed (patch 1 of sample 0 = rows 0-1, cols 2-3).
  auto changed = target.clone();
  changed.index_put_(
      {0, torch::indexing::Slice(0, 2), torch::indexing::Slice(2, 4)},
      (target.index({0, torch::indexing::Slice(0, 2), torch::indexing::Slice(2, 4)}) + 1) % 3);
  changed.index_put_({1, torch::indexing::Slice(0, 2), torch::indexing::Slice(0, 2)}, 255);
  EXPECT_EQ(semantic_loss(logits, changed, masked, 3).item<double>(), loss.item<double>());
  loss.backward();
  EXPECT_EQ(logits.grad()[0][1].abs().sum().item<double>(), 0.0);  // visible: no gradient
  EXPECT_GT(logits.grad()[0][0].abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace c2fmae::losses
