#include "c2fmae/models/block_checkpoint.h"

#include "c2fmae/models/vision_transformer.h"
#include "test_helpers.h"

namespace c2fmae::models {
namespace {

/// Output, input gradient and parameter gradients of one forward and backward pass.
struct Pass {
  torch::Tensor y, grad_x;
  std::vector<torch::Tensor> grads;
  double next_draw = 0;  ///< the generator's next draw after the pass
};

Pass run(VisionTransformer& vit, const torch::Tensor& input, bool checkpointed) {
  vit->set_activation_checkpointing(checkpointed);
  vit->zero_grad();
  testing::seed(7);  // the same stochastic-depth draws for both
  auto x = input.clone().requires_grad_(true);
  Pass p;
  p.y = vit->forward_blocks(x);
  (p.y * torch::linspace(-1, 1, p.y.numel()).view(p.y.sizes())).sum().backward();
  p.grad_x = x.grad();
  for (const auto& t : vit->parameters()) {
    if (t.grad().defined()) p.grads.push_back(t.grad().clone());
  }
  p.next_draw = torch::rand({1}).item<double>();
  return p;
}

TEST(BlockCheckpoint, TheSameOutputAndGradientsAsThePlainBlocksWithStochasticDepth) {
  testing::seed(3);
  VisionTransformer vit(VisionTransformerOptions(32, 16, 48, 3, 3).drop_path_rate(0.5));
  vit->train();
  const auto input = torch::randn({4, 5, 48});
  const auto plain = run(vit, input, false);
  const auto recomputed = run(vit, input, true);
  EXPECT_TRUE(torch::equal(plain.y, recomputed.y));
  EXPECT_TRUE(torch::equal(plain.grad_x, recomputed.grad_x));
  ASSERT_EQ(plain.grads.size(), recomputed.grads.size());
  ASSERT_EQ(plain.grads.size(), 3u * 12u + 2u);  // every block parameter and the final norm
  for (size_t i = 0; i < plain.grads.size(); ++i) {
    EXPECT_TRUE(torch::equal(plain.grads[i], recomputed.grads[i])) << i;
  }
  // The recomputation replays the draws without consuming the generator's state.
  EXPECT_EQ(plain.next_draw, recomputed.next_draw);
}

TEST(BlockCheckpoint, OutsideTrainingOrWithoutAutogradItIsThePlainBlock) {
  testing::seed(4);
  VisionTransformer vit(VisionTransformerOptions(32, 16, 48, 2, 3));
  vit->set_activation_checkpointing(true);
  const auto input = torch::randn({2, 5, 48});
  vit->eval();
  const auto y = vit->forward_blocks(input);
  EXPECT_FALSE(y.requires_grad() && y.grad_fn() &&
               y.grad_fn()->name().find("BlockRecompute") != std::string::npos);
  vit->train();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(vit->forward_blocks(input), y));
}

}  // namespace
}  // namespace c2fmae::models
