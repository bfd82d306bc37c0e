#include "c2fmae/models/cascade_decoder.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

CascadeDecoderOptions three_stages(bool cascade) {
  std::vector<DecoderStageOptions> stages;
  for (int64_t out : {7, 3, 12}) {
    stages.push_back(DecoderStageOptions(16, 8, 2, out)
                         .depth(1)
                         .cross_blocks(1)
                         .num_heads(2)
                         .num_modalities(3)
                         .has_previous(cascade && !stages.empty()));
  }
  return CascadeDecoderOptions().stages(stages).cascade(cascade);
}

TEST(CascadeDecoder, CascadeAndParallelDifferOnlyByTheContext) {
  testing::seed(12);
  CascadeDecoder cascade(three_stages(true));
  CascadeDecoder parallel(three_stages(false));
  // Same parameters, name for name, besides the cascade's "previous stage" embeddings.
  auto pc = cascade->named_parameters(), pp = parallel->named_parameters();
  ASSERT_EQ(pc.size(), pp.size() + 2);
  {
    torch::NoGradGuard g;
    for (const auto& p : pc) {
      if (p.key().find("previous_embed") == std::string::npos) pp[p.key()].copy_(p.value());
    }
  }
  auto encoded = torch::randn({2, 5, 16});
  auto visible = torch::tensor({{0, 5, 9, 11}, {2, 3, 4, 10}}, torch::kLong);
  auto yc = cascade(encoded, visible);
  auto yp = parallel(encoded, visible);
  ASSERT_EQ(yc.size(), 3u);
  EXPECT_EQ(yc[0].sizes(), (torch::IntArrayRef{2 * 4, 7}));
  EXPECT_EQ(yc[2].sizes(), (torch::IntArrayRef{2 * 4, 12}));
  EXPECT_TRUE(torch::equal(yc[0], yp[0]));  // the first stage has no previous stage
  EXPECT_FALSE(torch::allclose(yc[1], yp[1]));
  EXPECT_FALSE(torch::allclose(yc[2], yp[2]));
  // Exactly: parallel = stages without context, cascade = stages fed the previous tokens.
  auto s0 = cascade->stages[0]->as<DecoderStage>()->forward(encoded, visible, 0, {});
  auto s1 = cascade->stages[1]->as<DecoderStage>()->forward(encoded, visible, 1, s0.tokens);
  EXPECT_TRUE(torch::equal(yc[1], s1.prediction));
  auto p1 = parallel->stages[1]->as<DecoderStage>()->forward(encoded, visible, 1, {});
  EXPECT_TRUE(torch::equal(yp[1], p1.prediction));
  // Rows: only the rows asked for, the same values.
  auto rows = torch::tensor({1, 6}, torch::kLong);
  auto some = cascade->forward(encoded, visible, std::vector<torch::Tensor>{rows, rows, rows});
  for (size_t m = 0; m < 3; ++m) {
    testing::expect_close(some[m], yc[m].index_select(0, rows), 1e-5, 1e-6);
  }
}

}  // namespace
}  // namespace c2fmae::models
