#include "c2fmae/config/sections.h"

#include <gtest/gtest.h>

#include "c2fmae/config/pretrain_config.h"

namespace c2fmae::config {
namespace {

/// Expects validate() to fail naming `key` after applying `sets` to the defaults.
void expect_rejected(const std::vector<std::string>& sets, const std::string& key) {
  try {
    auto cfg = load_config<PretrainConfig>({}, sets);
    cfg.validate();
    ADD_FAILURE() << "accepted: " << sets.front();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key().substr(0, key.size()), key) << e.what();
    EXPECT_NE(std::string(e.what()).find("--set"), std::string::npos) << e.what();
  }
}

TEST(Sections, ModelRules) {
  expect_rejected({"model.img_size=100"}, "model.img_size");
  expect_rejected({"model.modalities=[rgb, depth]"}, "model.modalities");
  expect_rejected({"model.modalities=[rgb, rgb]"}, "model.modalities");
  expect_rejected({"model.decoder_mode=serial"}, "model.decoder_mode");
  expect_rejected({"model.decoder_heads=7"}, "model.decoder_heads");
  expect_rejected({"model.num_semantic_classes=255"}, "model.num_semantic_classes");
  expect_rejected({"model.patch_size=14", "model.img_size=224"}, "model.patch_size");
  // ViT-H's patch 14 with the label maps (read at 1/4 resolution): a config error, early.
  expect_rejected({"model.preset=huge", "model.patch_size=14", "model.modalities=[instance, rgb]"},
                  "model.patch_size");
  expect_rejected({"model.instance_slots=255"}, "model.instance_slots");
  // A cascade without cross-attention would silently be the parallel decoder.
  expect_rejected({"model.decoder_cross_blocks=0"}, "model.decoder_cross_blocks");
  expect_rejected({"loss.reduction=tokens"}, "loss.reduction");
  expect_rejected({"loss.instance_background=both"}, "loss.instance_background");
}

TEST(Sections, VitHugePatch14WithRgbOnlyAndParallelMaeDecoderAreAccepted) {
  auto cfg = load_config<PretrainConfig>(
      {},
      {"model.preset=huge", "model.patch_size=14", "model.modalities=[rgb]",
       "masking.num_visible=64", "model.decoder_mode=parallel", "model.decoder_cross_blocks=0"});
  EXPECT_NO_THROW(cfg.validate());
}

TEST(Sections, OtherSectionRules) {
  expect_rejected({"masking.num_visible=0"}, "masking.num_visible");
  expect_rejected({"masking.semantic_hide_ratio=1.5"}, "masking.semantic_hide_ratio");
  expect_rejected({"masking.guided_hide_in=coarser"}, "masking.guided_hide_in");
  expect_rejected({"masking.guided_max_region_share=0"}, "masking.guided_max_region_share");
  expect_rejected({"curriculum.interpolation=spline"}, "curriculum.interpolation");
  expect_rejected({"curriculum.keyframes=[{at: 0.5, random: 1}, {at: 0.2, random: 1}]"},
                  "curriculum.keyframes[1].at");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 0}]"}, "curriculum.keyframes[0]");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 1, weight_rgb: 1}, {at: 1, random: 1}]"},
                  "curriculum.keyframes[1]");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 1, weight_rgb: -1}]"},
                  "curriculum.keyframes[0].weight_rgb");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 1, weight_semantic: 1}]",
                   "model.modalities=[rgb]", "masking.num_visible=49"},
                  "curriculum.keyframes[0].weight_semantic");
  expect_rejected({"loss.instance_delta_push=0.1"}, "loss.instance_delta_push");
  expect_rejected({"data.source=folder"}, "data.source");  // without data.root
  expect_rejected({"data.source=lmdb", "data.root=/data"}, "data.source");
  expect_rejected({"data.root=/data/imagenet"}, "data.root");  // synthetic reads no root
  expect_rejected({"data.split=train/x"}, "data.split");
  expect_rejected({"data.split="}, "data.split");
  expect_rejected({"data.split=.."}, "data.split");
  expect_rejected({"data.max_bad_fraction=1.5"}, "data.max_bad_fraction");
  expect_rejected({"data.prefetch=0"}, "data.prefetch");
  expect_rejected({"data.interpolation=nearest"}, "data.interpolation");
  expect_rejected({"data.crop_scale_min=0"}, "data.crop_scale_min");
  expect_rejected({"optim.beta2=1"}, "optim.beta2");
  expect_rejected({"optim.accum_steps=0"}, "optim.accum_steps");
  expect_rejected({"train.device=tpu"}, "train.device");
  expect_rejected({"train.precision=fp8"}, "train.precision");
  expect_rejected({"dist.backend=mpi"}, "dist.backend");
  expect_rejected({"log.level=loud"}, "log.level");
}

/// Expects validate() to accept `sets` applied to the defaults.
void expect_accepted(const std::vector<std::string>& sets) {
  try {
    load_config<PretrainConfig>({}, sets).validate();
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "rejected: " << sets.front() << ": " << e.what();
  }
}

TEST(Sections, EveryNumberHasAnUpperBound) {
  // Values a hostile or careless user gives; each is a config error naming its key rather
  // than a LibTorch exception or an absurd allocation later on.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"model.img_size=1000000000", "model.img_size"},
      {"model.patch_size=2048", "model.patch_size"},
      {"model.embed_dim=65537", "model.embed_dim"},
      {"model.depth=100000", "model.depth"},
      {"model.num_heads=1025", "model.num_heads"},
      {"model.mlp_ratio=1e308", "model.mlp_ratio"},
      {"model.semantic_embed_dim=4097", "model.semantic_embed_dim"},
      {"model.instance_slots=9223372036854775807", "model.instance_slots"},
      {"model.instance_slot_dim=4097", "model.instance_slot_dim"},
      {"model.instance_head_dim=4097", "model.instance_head_dim"},
      {"model.decoder_dim=65540", "model.decoder_dim"},
      {"model.decoder_depth=257", "model.decoder_depth"},
      {"model.decoder_heads=1025", "model.decoder_heads"},
      {"model.decoder_cross_blocks=257", "model.decoder_cross_blocks"},
      {"masking.dirichlet_alpha=1e6", "masking.dirichlet_alpha"},
      {"curriculum.keyframes=[{at: 0, random: 1e300, semantic: 1e300}]",
       "curriculum.keyframes[0].random"},
      {"curriculum.keyframes=[{at: 0, random: 1, weight_rgb: 1e9}]",
       "curriculum.keyframes[0].weight_rgb"},
      {"loss.weight_semantic=1001", "loss.weight_semantic"},
      {"loss.weight_instance=1e300", "loss.weight_instance"},
      {"loss.weight_rgb=1001", "loss.weight_rgb"},
      {"loss.instance_delta_push=1e9", "loss.instance_delta_push"},
      {"loss.instance_weight_reg=1001", "loss.instance_weight_reg"},
      {"data.batch_size=65537", "data.batch_size"},
      {"data.num_workers=1025", "data.num_workers"},
      {"data.synthetic_samples=3000000000", "data.synthetic_samples"},
      {"optim.blr=11", "optim.blr"},
      {"optim.lr=1e300", "optim.lr"},
      {"optim.min_lr=11", "optim.min_lr"},
      {"optim.weight_decay=11", "optim.weight_decay"},
      {"optim.eps=2", "optim.eps"},
      {"optim.warmup_epochs=1e300", "optim.warmup_epochs"},
      {"optim.clip_grad=1e300", "optim.clip_grad"},
      {"optim.accum_steps=65537", "optim.accum_steps"},
      {"train.epochs=100001", "train.epochs"},
      {"train.checkpoint_every=1000000000001", "train.checkpoint_every"},
      {"train.keep_last=1001", "train.keep_last"},
      {"train.max_nonfinite=1000001", "train.max_nonfinite"},
      {"train.max_steps=9223372036854775807", "train.max_steps"},
      {"log.every=1000000000001", "log.every"},
  };
  for (const auto& [set, key] : cases) expect_rejected({set}, key);
}

TEST(Sections, EveryNumberHasALowerBound) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"model.patch_size=0", "model.patch_size"},
      {"model.img_size=-224", "model.img_size"},
      {"model.embed_dim=-1", "model.embed_dim"},
      {"model.depth=-1", "model.depth"},
      {"model.num_heads=-1", "model.num_heads"},
      {"model.mlp_ratio=1e-9", "model.mlp_ratio"},
      {"model.num_semantic_classes=0", "model.num_semantic_classes"},
      {"model.semantic_embed_dim=0", "model.semantic_embed_dim"},
      {"model.instance_slots=0", "model.instance_slots"},
      {"model.instance_slot_dim=0", "model.instance_slot_dim"},
      {"model.instance_head_dim=0", "model.instance_head_dim"},
      {"model.decoder_dim=0", "model.decoder_dim"},
      {"model.decoder_heads=0", "model.decoder_heads"},
      {"model.decoder_depth=-1", "model.decoder_depth"},
      {"model.decoder_cross_blocks=-1", "model.decoder_cross_blocks"},
      {"masking.num_visible=-5", "masking.num_visible"},
      {"masking.dirichlet_alpha=1e-9", "masking.dirichlet_alpha"},
      {"masking.instance_hide_ratio=-0.1", "masking.instance_hide_ratio"},
      {"masking.guided_max_region_share=1.5", "masking.guided_max_region_share"},
      {"masking.guided_max_region_share=-0.5", "masking.guided_max_region_share"},
      {"curriculum.keyframes=[{at: -0.1, random: 1}]", "curriculum.keyframes[0].at"},
      {"curriculum.keyframes=[{at: 0, random: 1, semantic: -1}]",
       "curriculum.keyframes[0].semantic"},
      {"loss.weight_semantic=-1", "loss.weight_semantic"},
      {"loss.instance_delta_pull=-1", "loss.instance_delta_pull"},
      {"loss.instance_weight_reg=-1", "loss.instance_weight_reg"},
      {"data.batch_size=0", "data.batch_size"},
      {"data.num_workers=-1", "data.num_workers"},
      {"data.synthetic_samples=0", "data.synthetic_samples"},
      {"data.hflip=-0.5", "data.hflip"},
      {"optim.blr=-1", "optim.blr"},
      {"optim.lr=-1", "optim.lr"},
      {"optim.min_lr=-1", "optim.min_lr"},
      {"optim.weight_decay=-0.05", "optim.weight_decay"},
      {"optim.eps=0", "optim.eps"},
      {"optim.warmup_epochs=-1", "optim.warmup_epochs"},
      {"optim.clip_grad=-1", "optim.clip_grad"},
      {"train.epochs=0", "train.epochs"},
      {"train.seed=-1", "train.seed"},
      {"train.checkpoint_every=0", "train.checkpoint_every"},
      {"train.eval_every=-1", "train.eval_every"},
      {"train.keep_last=0", "train.keep_last"},
      {"train.max_nonfinite=0", "train.max_nonfinite"},
      {"train.max_steps=-1", "train.max_steps"},
      {"log.every=0", "log.every"},
  };
  for (const auto& [set, key] : cases) expect_rejected({set}, key);
}

TEST(Sections, ValuesAtTheLimitsAreAccepted) {
  // Each range is closed: its ends validate (with what the cross-section rules need).
  const std::vector<std::vector<std::string>> cases = {
      {"model.img_size=4096"},
      {"model.patch_size=1024", "model.img_size=2048", "masking.num_visible=6"},
      {"model.embed_dim=65536"},
      {"model.depth=256"},
      {"model.num_heads=1024"},
      {"model.mlp_ratio=0.05"},
      {"model.mlp_ratio=64"},
      {"model.semantic_embed_dim=4096", "model.instance_slot_dim=4096",
       "model.instance_head_dim=4096"},
      {"model.instance_slots=254"},
      {"model.decoder_dim=65536", "model.decoder_heads=1024"},
      {"model.decoder_depth=256", "model.decoder_cross_blocks=256"},
      {"masking.dirichlet_alpha=0.01"},
      {"masking.dirichlet_alpha=1000"},
      {"masking.guided_max_region_share=1", "masking.guided_hide_in=all"},
      {"masking.guided_max_region_share=1e-9", "masking.guided_hide_in=guide_and_finer"},
      {"curriculum.keyframes=[{at: 0, random: 1e6, weight_semantic: 1000, weight_instance: 0, "
       "weight_rgb: 0}, {at: 1, random: 1e6, weight_semantic: 0, weight_instance: 0, weight_rgb: "
       "1}]"},
      {"loss.weight_semantic=1000", "loss.weight_instance=1000", "loss.weight_rgb=1000",
       "loss.instance_weight_reg=1000"},
      {"loss.instance_delta_pull=0", "loss.instance_delta_push=100"},
      {"data.batch_size=65536", "data.num_workers=1024", "data.synthetic_samples=2147483647"},
      {"optim.blr=10", "optim.lr=10", "optim.min_lr=10", "optim.weight_decay=10"},
      {"optim.eps=1e-30"},
      {"optim.eps=1", "optim.clip_grad=1e6", "optim.accum_steps=65536"},
      {"train.epochs=100000", "optim.warmup_epochs=100000"},
      {"train.checkpoint_every=1000000000000", "train.max_steps=1000000000000",
       "log.every=1000000000000"},
      {"train.keep_last=1000", "train.max_nonfinite=1000000"},
  };
  for (const auto& sets : cases) expect_accepted(sets);
}

TEST(Sections, RangeErrorsStateTheRange) {
  try {
    load_config<PretrainConfig>({}, {"model.depth=100000"}).validate();
    ADD_FAILURE() << "accepted model.depth=100000";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--set: model.depth = 100000: must be in [0, 256]\nhint:"),
              std::string::npos)
        << e.what();
  }
  try {
    load_config<PretrainConfig>({}, {"model.mlp_ratio=1e-9"}).validate();
    ADD_FAILURE() << "accepted model.mlp_ratio=1e-9";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.mlp_ratio = 1e-09: must be in [0.05, 64]"),
              std::string::npos)
        << e.what();
  }
  // Every digit of a rejected value, so it never reads as an accepted one.
  try {
    load_config<PretrainConfig>({}, {"masking.guided_max_region_share=1.0000001"}).validate();
    ADD_FAILURE() << "accepted masking.guided_max_region_share=1.0000001";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("= 1.0000001: must be in (0, 1]"), std::string::npos)
        << e.what();
  }
  // A rule between two keys names the one the user did not set too.
  try {
    load_config<PretrainConfig>({}, {"loss.instance_delta_pull=2"}).validate();
    ADD_FAILURE() << "accepted a pull margin above the push margin";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("loss.instance_delta_pull = 2"), std::string::npos)
        << e.what();
  }
}

TEST(Sections, KeyframeKeysAreReadWhenLoaded) {
  // Generator names are any identifier here; the curriculum area checks they are registered.
  auto cfg = load_config<PretrainConfig>({}, {"curriculum.keyframes=[{at: 0, blocks: 1}]"});
  EXPECT_EQ(cfg.curriculum.keyframes[0].weight("blocks"), 1.0);
  EXPECT_THROW(load_config<PretrainConfig>({}, {"curriculum.keyframes=[{at: 0, weight_rbg: 1}]"}),
               ConfigError);
  EXPECT_THROW(load_config<PretrainConfig>({}, {"curriculum.keyframes=[{at: 0, random: x}]"}),
               ConfigError);
  EXPECT_THROW(load_config<PretrainConfig>({}, {"curriculum.keyframes=[{random: 1}]"}),
               ConfigError);
}

}  // namespace
}  // namespace c2fmae::config
