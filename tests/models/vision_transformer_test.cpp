#include "c2fmae/models/vision_transformer.h"

#include <algorithm>

#include "c2fmae/models/position_embedding.h"
#include "test_helpers.h"

namespace c2fmae::models {
namespace {

VisionTransformerOptions depth2() { return VisionTransformerOptions(32, 8, 24, 2, 4); }

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(VisionTransformer, ParameterAndBufferNamesAreTimms) {
  VisionTransformer vit(depth2());
  std::vector<std::string> names;
  for (const auto& p : vit->named_parameters()) names.push_back(p.key());
  for (const auto& b : vit->named_buffers()) names.push_back(b.key());
  // timm.create_model('vit_tiny_patch16_224', num_classes=0, global_pool='', depth=2)
  // .state_dict().keys(), in timm's order.
  std::vector<std::string> block_keys = {"norm1.weight",  "norm1.bias",       "attn.qkv.weight",
                                         "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                                         "norm2.weight",  "norm2.bias",       "mlp.fc1.weight",
                                         "mlp.fc1.bias",  "mlp.fc2.weight",   "mlp.fc2.bias"};
  std::vector<std::string> timm = {"cls_token", "pos_embed", "patch_embed.proj.weight",
                                   "patch_embed.proj.bias"};
  for (int i = 0; i < 2; ++i) {
    for (const auto& k : block_keys) timm.push_back("blocks." + std::to_string(i) + "." + k);
  }
  timm.push_back("norm.weight");
  timm.push_back("norm.bias");
  EXPECT_EQ(sorted(names), sorted(timm));

  std::vector<std::string> exported;
  for (const auto& kv : timm_state_dict(*vit)) exported.push_back(kv.key());
  EXPECT_EQ(sorted(exported), sorted(timm));
  // pos_embed is fixed: a buffer, not a parameter (MAE: requires_grad=False).
  EXPECT_EQ(vit->named_parameters().find("pos_embed"), nullptr);
}

TEST(VisionTransformer, TimmShapes) {
  VisionTransformer vit(depth2());  // 32 px, patch 8: L = 16, D = 24, MLP 96
  auto sd = timm_state_dict(*vit);
  auto shape = [&](const std::string& k) { return sd[k].sizes().vec(); };
  EXPECT_EQ(shape("cls_token"), (std::vector<int64_t>{1, 1, 24}));
  EXPECT_EQ(shape("pos_embed"), (std::vector<int64_t>{1, 17, 24}));
  EXPECT_EQ(shape("patch_embed.proj.weight"), (std::vector<int64_t>{24, 3, 8, 8}));
  EXPECT_EQ(shape("blocks.1.attn.qkv.weight"), (std::vector<int64_t>{72, 24}));
  EXPECT_EQ(shape("blocks.1.mlp.fc1.weight"), (std::vector<int64_t>{96, 24}));
  EXPECT_EQ(shape("norm.weight"), (std::vector<int64_t>{24}));
}

TEST(VisionTransformer, PositionsAreMaeSinCosWithAZeroClassRow) {
  VisionTransformer vit(depth2());
  auto pos = vit->pos_embed.squeeze(0);
  EXPECT_TRUE(torch::equal(pos[0], torch::zeros({24})));
  EXPECT_TRUE(torch::equal(pos.narrow(0, 1, 16), sincos_2d_embedding(24, 4)));
  EXPECT_TRUE(torch::equal(vit->patch_pos_embed().squeeze(0), sincos_2d_embedding(24, 4)));
  EXPECT_TRUE(torch::equal(vit->class_token(), vit->cls_token));
}

TEST(VisionTransformer, ForwardFeaturesIsClassTokenPlusPatchTokensThroughTheBlocks) {
  testing::seed(41);
  VisionTransformer vit(depth2());
  {
    torch::NoGradGuard g;
    vit->cls_token.normal_();
  }
  auto rgb = torch::randn({2, 3, 32, 32});
  auto tokens = vit->patch_tokens(rgb);
  ASSERT_EQ(tokens.sizes(), (torch::IntArrayRef{2, 16, 24}));
  testing::expect_close(tokens - vit->patch_pos_embed(), vit->patch_embed(rgb), 1e-6, 1e-6);
  auto features = vit->forward_features(rgb);
  ASSERT_EQ(features.sizes(), (torch::IntArrayRef{2, 17, 24}));
  auto x = torch::cat({vit->class_token().expand({2, 1, 24}), tokens}, 1);
  EXPECT_TRUE(torch::equal(features, vit->forward_blocks(x)));
  // The final norm (unit weight, zero bias at construction): zero mean per token.
  EXPECT_LT(features.mean(-1).abs().max().item<double>(), 1e-5);
  try {
    vit->patch_tokens(torch::randn({2, 3, 16, 16}));
    ADD_FAILURE() << "accepted a 16 px image for a 32 px model";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("img_size"), std::string::npos);
  }
}

TEST(VisionTransformer, BuiltFromTheModelSection) {
  config::ModelConfig cfg;
  cfg.preset = "tiny";
  cfg.depth = 3;
  cfg.img_size = 64;
  cfg.patch_size = 16;
  cfg.mlp_ratio = 2.0;
  VisionTransformer vit(cfg);
  EXPECT_EQ(vit->options.embed_dim(), 192);
  EXPECT_EQ(vit->options.num_heads(), 3);
  EXPECT_EQ(vit->blocks->size(), 3u);
  EXPECT_EQ(vit->num_patches(), 16);
  EXPECT_EQ(vit->blocks[0]->named_parameters()["mlp.fc1.weight"].size(0), 384);
}

}  // namespace
}  // namespace c2fmae::models
