#include "c2fmae/optim/param_groups.h"

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/models/c2fmae_model.h"
#include "test_helpers.h"

namespace c2fmae::optim {
namespace {

TEST(ParamGroups, NoDecayOnBiasesNormsTokensAndEmbeddings) {
  EXPECT_TRUE(exempt_from_weight_decay("encoder.blocks.0.attn.qkv.bias", 1));
  EXPECT_TRUE(exempt_from_weight_decay("encoder.norm.weight", 1));
  EXPECT_TRUE(exempt_from_weight_decay("global_token", 3));
  EXPECT_TRUE(exempt_from_weight_decay("decoder.stages.1.mask_token", 3));
  EXPECT_TRUE(exempt_from_weight_decay("modality_embed", 2));
  EXPECT_TRUE(exempt_from_weight_decay("semantic_adapter.class_embed.weight", 2));
  EXPECT_TRUE(exempt_from_weight_decay("instance_adapter.slot_embed.weight", 2));
  EXPECT_FALSE(exempt_from_weight_decay("encoder.blocks.0.attn.qkv.weight", 2));
  EXPECT_FALSE(exempt_from_weight_decay("rgb_adapter.proj.weight", 4));

  auto cfg = config::load_config<config::PretrainConfig>(
      {}, {"model.preset=tiny", "model.depth=1", "model.img_size=32"});
  models::C2fmae model(cfg.model);
  auto groups = weight_decay_groups(model->named_parameters(), 0.05);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].weight_decay, 0.05);
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  EXPECT_EQ(groups[0].params.size() + groups[1].params.size(), model->parameters().size());
  for (const auto& n : groups[0].names) EXPECT_EQ(n.find("bias"), std::string::npos) << n;
}

}  // namespace
}  // namespace c2fmae::optim
