#include "c2fmae/models/decoder_stage.h"

#include <ATen/autocast_mode.h>

#include "c2fmae/models/block.h"
#include "c2fmae/models/cross_block.h"
#include "c2fmae/models/position_embedding.h"
#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(DecoderStage, QueriesHoldOwnVisibleTokensAndMaskTokensElsewhere) {
  testing::seed(10);
  // No blocks: the output tokens are the queries themselves.
  DecoderStage stage(DecoderStageOptions(12, 8, 2, 5).depth(0).cross_blocks(0));
  // M = 2 modalities, L = 4; this stage is modality 1 (tokens 4..7).
  auto visible = torch::tensor({{1, 4, 6}, {5, 6, 7}}, torch::kLong);
  auto encoded = torch::randn({2, 4, 12});
  auto out = stage(encoded, visible, 1, torch::Tensor());
  ASSERT_EQ(out.tokens.sizes(), (torch::IntArrayRef{2, 5, 8}));
  ASSERT_EQ(out.prediction.sizes(), (torch::IntArrayRef{2 * 4, 5}));
  auto ctx = torch::linear(encoded, stage->embed->weight, stage->embed->bias);
  auto pos = sincos_2d_embedding(8, 2);
  auto mask_token = stage->mask_token.view({8});
  testing::expect_close(out.tokens[0][0], ctx[0][0]);  // global token, zero position
  // Sample 0: tokens 4 and 6 are patches 0 and 2 of this modality; 1 belongs to modality 0.
  testing::expect_close(out.tokens[0][1], ctx[0][2] + pos[0]);
  testing::expect_close(out.tokens[0][3], ctx[0][3] + pos[2]);
  testing::expect_close(out.tokens[0][2], mask_token + pos[1]);
  testing::expect_close(out.tokens[0][4], mask_token + pos[3]);
  testing::expect_close(out.tokens[1][1], mask_token + pos[0]);
  testing::expect_close(out.tokens[1][4], ctx[1][3] + pos[3]);
}

TEST(DecoderStage, PreviousStageTokensEnterOnlyThroughCrossAttention) {
  testing::seed(11);
  auto encoded = torch::randn({2, 3, 12});
  auto visible = torch::tensor({{0, 3}, {1, 2}}, torch::kLong);
  auto previous = torch::randn({2, 5, 8});
  DecoderStage mae_like(DecoderStageOptions(12, 8, 2, 5).depth(1).cross_blocks(0).num_heads(2));
  EXPECT_TRUE(torch::equal(mae_like(encoded, visible, 0, previous).prediction,
                           mae_like(encoded, visible, 0, torch::Tensor()).prediction));
  DecoderStage cross(
      DecoderStageOptions(12, 8, 2, 5).depth(1).cross_blocks(1).num_heads(2).has_previous(true));
  EXPECT_FALSE(torch::allclose(cross(encoded, visible, 0, previous).prediction,
                               cross(encoded, visible, 0, torch::Tensor()).prediction));
}

TEST(DecoderStage, ResidualStreamStaysFloat32UnderBf16Autocast) {
  // As torch.cat promotes in MAE's decoder: the linear layers compute in bf16, the tokens
  // carried from block to block stay float32.
  testing::seed(12);
  DecoderStage stage(DecoderStageOptions(12, 8, 2, 5)
                         .depth(1)
                         .cross_blocks(1)
                         .num_heads(2)
                         .num_modalities(2)
                         .has_previous(true));
  auto encoded = torch::randn({2, 3, 12});
  auto visible = torch::tensor({{0, 3}, {1, 2}}, torch::kLong);
  auto previous = torch::randn({2, 5, 8});
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, true);
  const auto linear_dtype =
      at::linear(encoded, stage->embed->weight, stage->embed->bias).scalar_type();
  auto out = stage(encoded, visible, 1, previous);
  at::autocast::set_autocast_enabled(at::kCPU, false);
  at::autocast::clear_cache();
  EXPECT_EQ(linear_dtype, torch::kBFloat16);  // autocast is on
  EXPECT_EQ(out.tokens.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::isfinite(out.prediction).all().item<bool>());
}

TEST(DecoderStage, MultimaeCrossAttentionHasNoResidualAndNoFinalNorm) {
  testing::seed(13);
  auto opts = DecoderStageOptions(12, 8, 2, 5).depth(0).cross_blocks(1).num_heads(2);
  DecoderStage ours(opts),
      multimae(DecoderStageOptions(opts).cross_residual(false).final_norm(false));
  EXPECT_TRUE(ours->norm);
  EXPECT_FALSE(multimae->norm);
  {
    torch::NoGradGuard g;
    auto theirs = multimae->named_parameters();
    for (const auto& p : ours->named_parameters()) {
      if (theirs.contains(p.key())) theirs[p.key()].copy_(p.value());
    }
  }
  auto encoded = torch::randn({2, 3, 12});
  auto visible = torch::tensor({{0, 3}, {1, 2}}, torch::kLong);
  EXPECT_FALSE(torch::allclose(ours->forward(encoded, visible, 0, {}).prediction,
                               multimae->forward(encoded, visible, 0, {}).prediction));
  // The block without a residual: y = xattn(x), then y + mlp(norm2(y)).
  auto x = torch::randn({2, 5, 8}), ctx = torch::randn({2, 4, 8});
  CrossBlock with(BlockOptions(8, 2), true), without(BlockOptions(8, 2), false);
  {
    torch::NoGradGuard g;
    auto w = without->named_parameters();
    for (const auto& p : with->named_parameters()) w[p.key()].copy_(p.value());
  }
  auto attended = with->cross_attn(with->norm1(x), with->norm_context(ctx));
  auto y = attended + with->mlp(with->norm2(attended));
  testing::expect_close(without(x, ctx), y, 1e-5, 1e-6);
}

}  // namespace
}  // namespace c2fmae::models
