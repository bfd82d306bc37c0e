#include "c2fmae/models/vit_presets.h"

#include <gtest/gtest.h>

namespace c2fmae::models {
namespace {

TEST(VitPresets, ResolveWithOverrides) {
  config::ModelConfig m;
  m.preset = "huge";
  EXPECT_EQ(encoder_shape(m).embed_dim, 1280);
  EXPECT_EQ(encoder_shape(m).depth, 32);
  m.preset = "tiny";
  m.depth = 2;
  EXPECT_EQ(encoder_shape(m).depth, 2);
  EXPECT_EQ(encoder_shape(m).embed_dim, 192);
  EXPECT_THROW(vit_preset("gigantic"), std::invalid_argument);
}

TEST(VitPresets, RulesNameTheKey) {
  auto rejected_key = [](config::ModelConfig m) -> std::string {
    config::Origins origins;
    config::Checker c(origins);
    try {
      check_model_config(m, c);
    } catch (const config::ConfigError& e) {
      return e.key();
    }
    return "";
  };
  config::ModelConfig m;
  EXPECT_EQ(rejected_key(m), "");
  m.preset = "gigantic";
  EXPECT_EQ(rejected_key(m), "model.preset");
  m.preset = "base";
  m.embed_dim = 100;
  EXPECT_EQ(rejected_key(m), "model.embed_dim");
}

}  // namespace
}  // namespace c2fmae::models
