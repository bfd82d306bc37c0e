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
}

TEST(Sections, OtherSectionRules) {
  expect_rejected({"masking.num_visible=0"}, "masking.num_visible");
  expect_rejected({"masking.semantic_hide_ratio=1.5"}, "masking.semantic_hide_ratio");
  expect_rejected({"curriculum.interpolation=spline"}, "curriculum.interpolation");
  expect_rejected({"curriculum.keyframes=[{at: 0.5, random: 1}, {at: 0.2, random: 1}]"},
                  "curriculum.keyframes[1].at");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 0}]"}, "curriculum.keyframes[0]");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 1, loss_rgb: 1}, {at: 1, random: 1}]"},
                  "curriculum.keyframes[1]");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 1, loss_rgb: -1}]"},
                  "curriculum.keyframes[0].loss_rgb");
  expect_rejected({"curriculum.keyframes=[{at: 0, random: 1, loss_semantic: 1}]",
                   "model.modalities=[rgb]", "masking.num_visible=49"},
                  "curriculum.keyframes[0].loss_semantic");
  expect_rejected({"loss.instance_loss=affinity"}, "loss.instance_loss");
  expect_rejected({"loss.instance_delta_push=0.1"}, "loss.instance_delta_push");
  expect_rejected({"data.source=folder"}, "data.source");
  expect_rejected({"data.crop_scale_min=0"}, "data.crop_scale_min");
  expect_rejected({"optim.beta2=1"}, "optim.beta2");
  expect_rejected({"optim.accum_steps=0"}, "optim.accum_steps");
  expect_rejected({"train.device=tpu"}, "train.device");
  expect_rejected({"train.precision=fp8"}, "train.precision");
  expect_rejected({"dist.backend=mpi"}, "dist.backend");
  expect_rejected({"log.level=loud"}, "log.level");
}

TEST(Sections, KeyframeKeysAreReadWhenLoaded) {
  // Generator names are any identifier here; the curriculum area checks they are registered.
  auto cfg = load_config<PretrainConfig>({}, {"curriculum.keyframes=[{at: 0, blocks: 1}]"});
  EXPECT_EQ(cfg.curriculum.keyframes[0].weight("blocks"), 1.0);
  EXPECT_THROW(load_config<PretrainConfig>({}, {"curriculum.keyframes=[{at: 0, loss_rbg: 1}]"}),
               ConfigError);
  EXPECT_THROW(load_config<PretrainConfig>({}, {"curriculum.keyframes=[{at: 0, random: x}]"}),
               ConfigError);
  EXPECT_THROW(load_config<PretrainConfig>({}, {"curriculum.keyframes=[{random: 1}]"}), ConfigError);
}

}  // namespace
}  // namespace c2fmae::config
