#include "c2fmae/losses/classification_loss.h"

#include "c2fmae/data/mixup.h"
#include "test_helpers.h"

namespace c2fmae::losses {
namespace {

// The logits of every golden value below (timm 1.0.31, torch 2.11, float32 on the CPU):
//   logits = torch.tensor([[1.5, -0.3, 0.2, 2.0, -1.1], [0.4, 0.9, -2.0, 0.1, 0.3],
//                          [-0.7, 0.25, 1.3, -0.2, 0.8], [2.2, 0.6, -0.4, 1.9, -0.05]])
torch::Tensor golden_logits() {
  return torch::tensor({1.5f,  -0.3f, 0.2f,  2.0f,  -1.1f,  //
                        0.4f,  0.9f,  -2.0f, 0.1f,  0.3f,   //
                        -0.7f, 0.25f, 1.3f,  -0.2f, 0.8f,   //
                        2.2f,  0.6f,  -0.4f, 1.9f,  -0.05f})
      .view({4, 5});
}

torch::Tensor golden_labels() { return torch::tensor({0, 2, 1, 3}, torch::kLong); }

//   from timm.loss import SoftTargetCrossEntropy
//   target = mixup_target(torch.tensor([0, 2, 1, 3]), 5, lam=0.7, smoothing=0.1)
//   SoftTargetCrossEntropy()(logits, target).item()  -> 1.6748669147491455
TEST(SoftTargetCrossEntropy, MatchesTimm) {
  auto target = data::mixup_target(golden_labels(), 5, 0.7, 0.1);
  auto loss = soft_target_cross_entropy(golden_logits(), target);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat);
  EXPECT_NEAR(loss.item<double>(), 1.6748669147491455, 1e-6);
}

TEST(SoftTargetCrossEntropy, ComputesInFloat32) {
  auto target = data::mixup_target(golden_labels(), 5, 0.7, 0.1);
  auto half = golden_logits().to(torch::kBFloat16);
  auto loss = soft_target_cross_entropy(half, target.to(torch::kBFloat16));
  EXPECT_EQ(loss.scalar_type(), torch::kFloat);
  EXPECT_NEAR(
      loss.item<double>(),
      soft_target_cross_entropy(half.to(torch::kFloat), target.to(torch::kBFloat16)).item<double>(),
      1e-7);
}

//   from timm.loss import LabelSmoothingCrossEntropy
//   LabelSmoothingCrossEntropy(0.1)(logits, torch.tensor([0, 2, 1, 3])).item()
//     -> 1.995491862297058
//   LabelSmoothingCrossEntropy(0.0)(logits, labels).item() -> 1.9927418231964111
//   F.cross_entropy(logits, labels).item()                  -> 1.9927418231964111
TEST(LabelSmoothingCrossEntropy, MatchesTimm) {
  EXPECT_NEAR(label_smoothing_cross_entropy(golden_logits(), golden_labels(), 0.1).item<double>(),
              1.995491862297058, 1e-6);
  EXPECT_NEAR(label_smoothing_cross_entropy(golden_logits(), golden_labels(), 0.0).item<double>(),
              1.9927418231964111, 1e-6);
  EXPECT_NEAR(label_smoothing_cross_entropy(golden_logits(), golden_labels(), 0.0).item<double>(),
              torch::nn::functional::cross_entropy(golden_logits(), golden_labels()).item<double>(),
              1e-6);
}

// With unmixed smoothed targets the two losses are the same loss (MAE's two criteria agree).
TEST(LabelSmoothingCrossEntropy, AgreesWithSoftTargetsOfTheSameSmoothing) {
  testing::seed(7);
  auto logits = torch::randn({6, 11});
  auto labels = torch::randint(0, 11, {6}, torch::kLong);
  EXPECT_NEAR(
      label_smoothing_cross_entropy(logits, labels, 0.2).item<double>(),
      soft_target_cross_entropy(logits, data::mixup_target(labels, 11, 1.0, 0.2)).item<double>(),
      1e-5);
}

// d/dlogits of the soft-target loss is (softmax - target) / B.
TEST(ClassificationLoss, GradientsFlow) {
  testing::seed(8);
  auto logits = torch::randn({4, 7}, torch::requires_grad());
  auto labels = torch::tensor({6, 0, 3, 3}, torch::kLong);
  auto target = data::mixup_target(labels, 7, 0.6, 0.1);
  soft_target_cross_entropy(logits, target).backward();
  ASSERT_TRUE(logits.grad().defined());
  testing::expect_close(logits.grad(), (torch::softmax(logits.detach(), -1) - target) / 4, 1e-5,
                        1e-7);
  logits.mutable_grad().reset();
  label_smoothing_cross_entropy(logits, labels, 0.1).backward();
  ASSERT_TRUE(logits.grad().defined());
  EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>());
  EXPECT_GT(logits.grad().abs().sum().item<double>(), 0.0);
}

TEST(ClassificationLoss, RefusesBadShapes) {
  auto logits = golden_logits();
  EXPECT_THROW(soft_target_cross_entropy(logits, torch::zeros({4, 4})), c10::Error);
  EXPECT_THROW(soft_target_cross_entropy(logits.flatten(), logits.flatten()), c10::Error);
  EXPECT_THROW(label_smoothing_cross_entropy(logits, torch::tensor({0, 1}, torch::kLong), 0.1),
               c10::Error);
  EXPECT_THROW(label_smoothing_cross_entropy(logits, golden_labels(), 1.0), c10::Error);
  EXPECT_THROW(topk_correct(logits, golden_labels(), {}), c10::Error);
  EXPECT_THROW(topk_correct(logits, golden_labels(), {0}), c10::Error);
}

//   from timm.utils import accuracy
//   accuracy(logits, torch.tensor([3, 4, 2, 4]), topk=(1, 2, 3, 4, 7))
//     -> [50.0, 50.0, 75.0, 100.0, 100.0] of 4 rows (k = 7 is clamped to C = 5)
TEST(TopkCorrect, MatchesTimmAccuracy) {
  auto counts =
      topk_correct(golden_logits(), torch::tensor({3, 4, 2, 4}, torch::kLong), {1, 2, 3, 4, 7});
  EXPECT_EQ(counts.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(counts, torch::tensor({2, 2, 3, 4, 4}, torch::kLong))) << counts;
}

TEST(TopkCorrect, IgnoresPaddingLabels) {
  auto counts =
      topk_correct(golden_logits(), torch::tensor({3, -1, 2, -100}, torch::kLong), {1, 5});
  EXPECT_TRUE(torch::equal(counts, torch::tensor({2, 2}, torch::kLong))) << counts;
}

TEST(TopkCorrect, StaysOnTheDevice) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto counts = topk_correct(golden_logits().cuda(),
                             torch::tensor({3, 4, 2, 4}, torch::kLong).cuda(), {1, 5});
  EXPECT_TRUE(counts.is_cuda());
  EXPECT_TRUE(torch::equal(counts.cpu(), torch::tensor({2, 4}, torch::kLong)));
}

}  // namespace
}  // namespace c2fmae::losses
