#include "c2fmae/optim/layer_decay.h"

#include <cmath>
#include <map>
#include <set>

#include "c2fmae/models/classifier.h"
#include "test_helpers.h"

namespace c2fmae::optim {
namespace {

TEST(LayerDecay, LayerIdsAsMaesGetLayerIdForVit) {
  for (const char* prefix : {"", "backbone."}) {
    const std::string p = prefix;
    EXPECT_EQ(vit_layer_id(p + "cls_token", 12), 0);
    EXPECT_EQ(vit_layer_id(p + "pos_embed", 12), 0);
    EXPECT_EQ(vit_layer_id(p + "patch_embed.proj.weight", 12), 0);
    EXPECT_EQ(vit_layer_id(p + "blocks.0.norm1.weight", 12), 1);
    EXPECT_EQ(vit_layer_id(p + "blocks.11.mlp.fc2.bias", 12), 12);
    EXPECT_EQ(vit_layer_id(p + "norm.weight", 12), 13);
  }
  EXPECT_EQ(vit_layer_id("fc_norm.weight", 12), 13);
  EXPECT_EQ(vit_layer_id("head.weight", 12), 13);
}

TEST(LayerDecay, EachGroupScaledByDecayToTheDepthPlusOneMinusItsLayer) {
  const int64_t depth = 3;
  const double decay = 0.65;
  models::Classifier model(models::ClassifierOptions(
      models::VisionTransformerOptions(32, 16, 24, depth, 2).learned_pos_embed(true), 5));
  const auto groups = layer_decay_groups(model->named_parameters(), 0.05, decay, depth);
  std::map<std::string, std::pair<double, double>> by_name;  // name -> (lr scale, decay)
  size_t count = 0;
  for (const auto& g : groups) {
    for (const auto& n : g.names) by_name[n] = {g.lr_scale, g.weight_decay};
    count += g.names.size();
  }
  EXPECT_EQ(count, model->parameters().size());
  auto scale = [&](int64_t layer) {
    return std::pow(decay, static_cast<double>(depth + 1 - layer));
  };
  EXPECT_DOUBLE_EQ(by_name.at("backbone.cls_token").first, scale(0));
  EXPECT_DOUBLE_EQ(by_name.at("backbone.pos_embed").first, scale(0));
  EXPECT_DOUBLE_EQ(by_name.at("backbone.patch_embed.proj.weight").first, scale(0));
  EXPECT_DOUBLE_EQ(by_name.at("backbone.blocks.0.attn.qkv.weight").first, scale(1));
  EXPECT_DOUBLE_EQ(by_name.at("backbone.blocks.2.mlp.fc1.bias").first, scale(3));
  EXPECT_DOUBLE_EQ(by_name.at("fc_norm.weight").first, 1.0);
  EXPECT_DOUBLE_EQ(by_name.at("head.weight").first, 1.0);
  // Weight decay as MAE's param_groups_lrd: none on 1-D parameters, pos_embed, cls_token.
  EXPECT_DOUBLE_EQ(by_name.at("head.weight").second, 0.05);
  EXPECT_DOUBLE_EQ(by_name.at("backbone.blocks.0.attn.qkv.weight").second, 0.05);
  EXPECT_DOUBLE_EQ(by_name.at("head.bias").second, 0.0);
  EXPECT_DOUBLE_EQ(by_name.at("backbone.pos_embed").second, 0.0);
  EXPECT_DOUBLE_EQ(by_name.at("backbone.cls_token").second, 0.0);
  EXPECT_DOUBLE_EQ(by_name.at("backbone.blocks.1.norm1.weight").second, 0.0);
  // Decay 1 is plain AdamW.
  for (const auto& g : layer_decay_groups(model->named_parameters(), 0.05, 1.0, depth)) {
    EXPECT_DOUBLE_EQ(g.lr_scale, 1.0);
  }
}

TEST(LayerDecay, FrozenParametersAreLeftOut) {
  models::Classifier model(
      models::ClassifierOptions(models::VisionTransformerOptions(32, 16, 24, 2, 2), 5)
          .linear_probe(true));
  for (auto& p : model->backbone->parameters()) p.set_requires_grad(false);
  const auto groups = layer_decay_groups(model->named_parameters(), 0.0, 0.75, 2);
  std::set<std::string> names;
  for (const auto& g : groups) names.insert(g.names.begin(), g.names.end());
  EXPECT_EQ(names,
            (std::set<std::string>{"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"}));
}

}  // namespace
}  // namespace c2fmae::optim
