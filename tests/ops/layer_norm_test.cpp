#include "c2fmae/ops/layer_norm.h"

#include "test_helpers.h"

namespace c2fmae::ops {
namespace {

TEST(LayerNormOp, MatchesTheDefinitionAndTorchsModule) {
  testing::seed(31);
  auto x = torch::randn({2, 5, 12}) * 3 + 1;
  auto w = torch::randn({12}), b = torch::randn({12});
  auto y = layer_norm(x, w, b, 1e-6);
  auto mean = x.mean(-1, true), var = x.var(-1, /*unbiased=*/false, true);
  testing::expect_close(y, (x - mean) / (var + 1e-6).sqrt() * w + b, 1e-5, 1e-5);
  torch::nn::LayerNorm ref(torch::nn::LayerNormOptions({12}).eps(1e-6));
  {
    torch::NoGradGuard g;
    ref->weight.copy_(w);
    ref->bias.copy_(b);
  }
  EXPECT_TRUE(torch::equal(y, ref(x)));
  // No affine part: plain normalisation.
  testing::expect_close(layer_norm(x, {}, {}, 1e-6), (x - mean) / (var + 1e-6).sqrt(), 1e-5, 1e-5);
}

TEST(LayerNormOp, GradientsMatchTorch) {
  testing::seed(32);
  auto x = torch::randn({3, 8}, torch::requires_grad());
  auto w = torch::randn({8}, torch::requires_grad()), b = torch::randn({8}, torch::requires_grad());
  auto x2 = x.detach().clone().requires_grad_(), w2 = w.detach().clone().requires_grad_(),
       b2 = b.detach().clone().requires_grad_();
  auto g = torch::randn({3, 8});
  (layer_norm(x, w, b, 1e-5) * g).sum().backward();
  (at::layer_norm(x2, {8}, w2, b2, 1e-5) * g).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), x2.grad()));
  EXPECT_TRUE(torch::equal(w.grad(), w2.grad()));
  EXPECT_TRUE(torch::equal(b.grad(), b2.grad()));
}

TEST(LayerNormOp, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  testing::seed(33);
  auto x = torch::randn({4, 7, 64});
  auto w = torch::randn({64}), b = torch::randn({64});
  auto cpu = layer_norm(x, w, b, 1e-6);
  auto gpu = layer_norm(x.cuda(), w.cuda(), b.cuda(), 1e-6).cpu();
  testing::expect_close(gpu, cpu, 1e-4, 1e-5);
}

}  // namespace
}  // namespace c2fmae::ops
