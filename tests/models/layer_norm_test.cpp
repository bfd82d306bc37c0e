#include "c2fmae/models/layer_norm.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(LayerNorm, TimmNamesEpsAndSameValuesAsTorchsModule) {
  testing::seed(21);
  LayerNorm norm(LayerNormOptions(10));
  std::vector<std::string> names;
  for (const auto& p : norm->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));
  EXPECT_DOUBLE_EQ(norm->options.eps(), 1e-6);
  EXPECT_TRUE(torch::equal(norm->weight, torch::ones({10})));
  EXPECT_TRUE(torch::equal(norm->bias, torch::zeros({10})));

  torch::nn::LayerNorm ref(torch::nn::LayerNormOptions({10}).eps(1e-6));
  {
    torch::NoGradGuard g;
    norm->weight.normal_();
    norm->bias.normal_();
    ref->weight.copy_(norm->weight);
    ref->bias.copy_(norm->bias);
  }
  auto x = torch::randn({3, 4, 10});
  EXPECT_TRUE(torch::equal(norm(x), ref(x)));
  EXPECT_THROW(norm(torch::randn({3, 4, 9})), c10::Error);
}

}  // namespace
}  // namespace c2fmae::models
