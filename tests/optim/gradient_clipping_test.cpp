#include "c2fmae/optim/gradient_clipping.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

namespace c2fmae::optim {
namespace {

std::vector<torch::Tensor> params_with_grads(const std::vector<std::vector<float>>& grads) {
  std::vector<torch::Tensor> params;
  for (const auto& g : grads) {
    auto p = torch::zeros({static_cast<int64_t>(g.size())}, torch::requires_grad());
    p.mutable_grad() = torch::tensor(g);
    params.push_back(p);
  }
  return params;
}

TEST(GradientClipping, NormCoversEveryGradientAndSkipsParametersWithout) {
  auto params = params_with_grads({{3.0f}, {4.0f, 0.0f}});
  params.push_back(torch::zeros({5}, torch::requires_grad()));  // no gradient
  const auto norm = clip_gradient_norm(params, 0.0);
  EXPECT_FLOAT_EQ(norm.item<float>(), 5.0f);
  EXPECT_FLOAT_EQ(params[0].grad().item<float>(), 3.0f);  // max_norm 0: not clipped
}

TEST(GradientClipping, ScalesToMaxNormOnlyWhenLarger) {
  auto params = params_with_grads({{3.0f}, {4.0f}});
  EXPECT_FLOAT_EQ(clip_gradient_norm(params, 1.0).item<float>(), 5.0f);  // the norm before
  EXPECT_NEAR(params[0].grad().item<float>(), 0.6f, 1e-5);
  EXPECT_NEAR(params[1].grad().item<float>(), 0.8f, 1e-5);
  auto small = params_with_grads({{0.3f}, {0.4f}});
  clip_gradient_norm(small, 1.0);
  EXPECT_FLOAT_EQ(small[0].grad().item<float>(), 0.3f);
}

TEST(GradientClipping, NonFiniteGradientsGiveANonFiniteNormAndStayUnscaled) {
  const float inf = std::numeric_limits<float>::infinity();
  auto params = params_with_grads({{1.0f}, {inf}});
  EXPECT_FALSE(std::isfinite(clip_gradient_norm(params, 0.0).item<float>()));
  EXPECT_FALSE(std::isfinite(clip_gradient_norm(params, 1.0).item<float>()));
  EXPECT_FLOAT_EQ(params[0].grad().item<float>(), 1.0f);
  auto nan = params_with_grads({{std::nanf("")}});
  EXPECT_TRUE(std::isnan(clip_gradient_norm(nan, 0.0).item<float>()));
}

}  // namespace
}  // namespace c2fmae::optim
