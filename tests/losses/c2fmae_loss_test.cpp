#include "c2fmae/losses/c2fmae_loss.h"

#include "c2fmae/config/config.h"
#include "test_helpers.h"

namespace c2fmae::losses {
namespace {

TEST(C2fmaeLoss, WeightedSumOfPerModalityTerms) {
  testing::seed(21);
  auto cfg = config::load_config({}, {"model.img_size=32", "model.num_semantic_classes=5"});
  C2fmaeLoss loss_fn(cfg.model, cfg.loss);
  auto batch = testing::random_maps(2, 32, 5, 3);
  batch.mask = torch::rand({2, 3, 4}) < 0.7;
  std::vector<torch::Tensor> preds = {torch::randn({2, 4, 5 * 16}), torch::randn({2, 4, 8 * 16}),
                                      torch::randn({2, 4, 16 * 16 * 3})};
  auto out = loss_fn(preds, batch, {0.5, 2.0, 3.0});
  ASSERT_EQ(out.terms.size(), 3u);
  EXPECT_EQ(out.terms[0].first, Modality::kSemantic);
  EXPECT_EQ(out.terms[2].first, Modality::kRgb);
  auto expected = 0.5 * out.terms[0].second + 2.0 * out.terms[1].second + 3.0 * out.terms[2].second;
  EXPECT_NEAR(out.total.item<double>(), expected.item<double>(), 1e-5);
}

TEST(C2fmaeLoss, UnchangedByAnyChangeToVisibleTokenTargets) {
  testing::seed(22);
  auto cfg = config::load_config({}, {"model.img_size=32", "model.num_semantic_classes=5"});
  C2fmaeLoss loss_fn(cfg.model, cfg.loss);
  auto batch = testing::random_maps(2, 32, 5, 4);
  // Token 1 (top-right 16x16 patch) visible in every modality and sample; the rest masked.
  batch.mask = torch::ones({2, 3, 4}, torch::kBool);
  batch.mask.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), 1}, false);
  std::vector<torch::Tensor> preds = {torch::randn({2, 4, 5 * 16}), torch::randn({2, 4, 8 * 16}),
                                      torch::randn({2, 4, 16 * 16 * 3})};
  auto before = loss_fn(preds, batch, loss_fn.default_weights());
  auto changed = batch;
  using torch::indexing::Slice;
  auto patch1 = std::vector<torch::indexing::TensorIndex>{Slice(), Slice(0, 16), Slice(16, 32)};
  changed.semantic = batch.semantic.clone();
  changed.semantic.index_put_(patch1, 4);
  changed.instance = batch.instance.clone();
  changed.instance.index_put_(patch1, 60000);
  changed.rgb = batch.rgb.clone();
  changed.rgb.index_put_({Slice(), Slice(), Slice(0, 16), Slice(16, 32)}, 1e6);
  auto after = loss_fn(preds, changed, loss_fn.default_weights());
  EXPECT_EQ(after.total.item<double>(), before.total.item<double>());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(after.terms[i].second.item<double>(), before.terms[i].second.item<double>());
  }
}

}  // namespace
}  // namespace c2fmae::losses
