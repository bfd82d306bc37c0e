#include "c2fmae/models/classifier.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

VisionTransformerOptions tiny_vit() { return VisionTransformerOptions(32, 16, 24, 2, 2); }

std::vector<std::string> names_of(torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& p : m.named_parameters()) out.push_back(p.key());
  for (const auto& b : m.named_buffers()) out.push_back(b.key());
  return out;
}

bool has(const std::vector<std::string>& names, const std::string& n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

TEST(Classifier, AveragePoolingUsesFcNormAndNoFinalNorm) {
  testing::seed(1);
  Classifier model(ClassifierOptions(tiny_vit(), 7));
  const auto names = names_of(*model);
  // timm's VisionTransformer(global_pool='avg'): fc_norm, norm = Identity.
  EXPECT_TRUE(has(names, "fc_norm.weight"));
  EXPECT_FALSE(has(names, "backbone.norm.weight"));
  EXPECT_TRUE(has(names, "head.weight"));
  auto x = torch::randn({3, 3, 32, 32});
  model->eval();
  const auto logits = model(x);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{3, 7}));
  const auto tokens = model->backbone->forward_features(x);
  const auto pooled = model->fc_norm(tokens.narrow(1, 1, 4).mean(1));
  testing::expect_close(model->forward_features(x), pooled);
  testing::expect_close(logits, model->head(pooled));
  // The head starts near zero (MAE: trunc_normal std 2e-5, bias 0).
  EXPECT_LT(model->head->weight.abs().max().item<double>(), 1e-3);
  EXPECT_EQ(model->head->bias.abs().max().item<double>(), 0.0);
}

TEST(Classifier, TokenPoolingTakesTheNormalisedClassToken) {
  testing::seed(2);
  Classifier model(
      ClassifierOptions(tiny_vit(), 4).global_pool(config::GlobalPool::kToken).head_init_std(0.01));
  const auto names = names_of(*model);
  EXPECT_FALSE(has(names, "fc_norm.weight"));
  EXPECT_TRUE(has(names, "backbone.norm.weight"));
  auto x = torch::randn({2, 3, 32, 32});
  model->eval();
  testing::expect_close(model->forward_features(x),
                        model->backbone->forward_features(x).select(1, 0));
}

TEST(Classifier, LinearProbeHasABatchNormWithoutAffineBeforeTheHead) {
  testing::seed(3);
  Classifier model(ClassifierOptions(tiny_vit(), 5).linear_probe(true));
  ASSERT_TRUE(model->head_norm);
  EXPECT_FALSE(model->head_norm->options.affine());
  EXPECT_DOUBLE_EQ(model->head_norm->options.eps(), 1e-6);
  const auto names = names_of(*model);
  EXPECT_TRUE(has(names, "head_norm.running_mean"));
  EXPECT_FALSE(has(names, "head_norm.weight"));
  model->eval();
  auto x = torch::randn({2, 3, 32, 32});
  const auto f = model->forward_features(x);
  const auto normed =
      (f - model->head_norm->running_mean) / (model->head_norm->running_var + 1e-6).sqrt();
  testing::expect_close(model(x), model->head(normed));
}

TEST(Classifier, LearnedPositionsAreAParameterStartingFromSinCos) {
  VisionTransformer fixed(tiny_vit());
  VisionTransformer learned(tiny_vit().learned_pos_embed(true));
  EXPECT_TRUE(has(names_of(*learned), "pos_embed"));
  bool is_param = false;
  for (const auto& p : learned->named_parameters()) is_param |= p.key() == "pos_embed";
  EXPECT_TRUE(is_param);
  EXPECT_TRUE(torch::equal(fixed->pos_embed, learned->pos_embed.detach()));
}

}  // namespace
}  // namespace c2fmae::models
