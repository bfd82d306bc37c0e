#include "c2fmae/losses/rgb_loss.h"

#include "c2fmae/core/patchify.h"
#include "test_helpers.h"

namespace c2fmae::losses {
namespace {

TEST(RgbLoss, MaeNormPixLossOnMaskedPatches) {
  testing::seed(17);
  auto img = torch::randn({2, 3, 8, 8});
  auto all = torch::randn({2, 4, 48});
  auto masked = torch::tensor({{true, false, true, false}, {true, true, true, false}});
  auto rows = testing::rows_of(masked);
  auto pred = testing::take_rows(all, rows);
  auto t = patchify(img, 4);
  auto norm = (t - t.mean(-1, true)) / (t.var(-1, true, true) + 1e-6).sqrt();
  auto per = (all - norm).pow(2).mean(-1);
  auto m = masked.to(torch::kFloat);
  EXPECT_NEAR(rgb_loss(pred, img, rows, 4, true).value().item<double>(),
              ((per * m).sum() / m.sum()).item<double>(), 1e-6);
  auto raw = ((all - t).pow(2).mean(-1) * m).sum() / m.sum();
  EXPECT_NEAR(rgb_loss(pred, img, rows, 4, false).value().item<double>(), raw.item<double>(), 1e-6);
  // MultiMAE's reduction: a mean per sample, then over samples.
  auto per_sample = ((per * m).sum(1) / m.sum(1)).mean();
  EXPECT_NEAR(rgb_loss(pred, img, rows, 4, true, Reduction::kSamples).value().item<double>(),
              per_sample.item<double>(), 1e-6);
}

TEST(RgbLoss, VisiblePatchesAreNeverRead) {
  testing::seed(18);
  auto img = torch::randn({1, 3, 8, 8});
  auto rows = testing::rows_of(torch::tensor({{true, false, false, true}}));
  auto pred = testing::take_rows(torch::randn({1, 4, 48}), rows);
  auto loss = rgb_loss(pred, img, rows, 4, true).value().item<double>();
  auto other = img.clone();
  other.index_put_(
      {0, torch::indexing::Slice(), torch::indexing::Slice(0, 4), torch::indexing::Slice(4, 8)},
      std::numeric_limits<float>::quiet_NaN());  // patch 1 (visible)
  EXPECT_EQ(rgb_loss(pred, other, rows, 4, true).value().item<double>(), loss);
}

}  // namespace
}  // namespace c2fmae::losses
