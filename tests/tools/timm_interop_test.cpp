// Interop with timm, both ways, through Python (tests/interop/timm_interop.py with the
// set-up script's timm and safetensors): a timm ViT saved as safetensors loads into our
// classifier with the same features and logits, and our export loads into timm with
// strict=True (no missing or unexpected key) with the same features and logits.
#include <filesystem>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/formats/safetensors.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/models/classifier.h"
#include "c2fmae/optim/adamw.h"
#include "c2fmae/train/checkpoint.h"
#include "c2fmae/train/encoder_export.h"
#include "c2fmae/train/pretrained_weights.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae {
namespace {
namespace fs = std::filesystem;

/// Runs the interop script; `args` after the subcommand.
testing::CommandResult python(const std::string& args) {
  return testing::run_command(std::string(C2FMAE_PYTHON_BIN) + " " + C2FMAE_SOURCE_DIR +
                              "/tests/interop/timm_interop.py " + args);
}

// The model both sides build: ViT 32 px, patch 16, 24 wide, 2 blocks, 2 heads.
const char* kShape = "--img-size 32 --patch-size 16 --embed-dim 24 --depth 2 --num-heads 2";

models::ClassifierOptions ours(int64_t classes, const std::string& pool) {
  return models::ClassifierOptions(
             models::VisionTransformerOptions(32, 16, 24, 2, 2).learned_pos_embed(true), classes)
      .global_pool(*enum_from_name<config::GlobalPool>(pool));
}

/// Relative difference as the issue states it: max |a - b| / max |b|.
double rel(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

class TimmInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(TimmInterop, ATimmVitLoadsWithTheSameFeaturesAndLogits) {
  const auto pool = GetParam();
  const auto dir = testing::fresh_dir("timm_interop_in_" + pool);
  auto r = python(std::string("make --out ") + dir + " " + kShape +
                  " --num-classes 5 --global-pool " + pool);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  models::Classifier model(ours(5, pool));
  const auto report =
      train::load_weights(*model, train::read_weights(dir + "/timm_vit.safetensors"));
  EXPECT_TRUE(report.initialised.empty()) << report.text();
  EXPECT_TRUE(report.left_out.empty()) << report.text();
  model->eval();
  const auto x = formats::read_safetensors(dir + "/input.safetensors").tensors["x"];
  const auto expected = formats::read_safetensors(dir + "/expected.safetensors").tensors;
  torch::NoGradGuard g;
  EXPECT_LE(rel(model->backbone->forward_features(x), expected["features"]), 1e-5);
  EXPECT_LE(rel(model->forward_features(x), expected["pooled"]), 1e-5);
  EXPECT_LE(rel(model(x), expected["logits"]), 1e-5);
}

TEST_P(TimmInterop, OurExportLoadsIntoTimmStrictlyWithTheSameOutputs) {
  const auto pool = GetParam();
  const auto dir = testing::fresh_dir("timm_interop_out_" + pool);
  // The input comes from the script (make); the model is ours, with non-trivial weights.
  auto r = python(std::string("make --out ") + dir + " " + kShape +
                  " --num-classes 5 --global-pool " + pool);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  testing::seed(31);
  models::Classifier model(ours(5, pool));
  {
    torch::NoGradGuard g;
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  train::WeightsFile file;
  file.path = "model";
  for (const auto& p : model->named_parameters()) file.tensors.insert(p.key(), p.value().detach());
  for (const auto& b : model->named_buffers()) file.tensors.insert(b.key(), b.value());
  formats::write_safetensors(dir + "/ours.safetensors",
                             train::export_tensors(file, train::ExportPart::kEncoder));
  r = python("check --weights " + dir + "/ours.safetensors --dir " + dir + " " + kShape +
             " --num-classes 5 --global-pool " + pool);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  model->eval();
  const auto x = formats::read_safetensors(dir + "/input.safetensors").tensors["x"];
  const auto timm = formats::read_safetensors(dir + "/timm_on_export.safetensors").tensors;
  torch::NoGradGuard g;
  EXPECT_LE(rel(timm["features"], model->backbone->forward_features(x)), 1e-5);
  EXPECT_LE(rel(timm["pooled"], model->forward_features(x)), 1e-5);
  EXPECT_LE(rel(timm["logits"], model(x)), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Pooling, TimmInterop, ::testing::Values("avg", "token"));

TEST(TimmInteropExport, APretrainingCheckpointsEncoderIsATimmVitWithoutHead) {
  // The c2fmae_export program on a pre-training checkpoint: timm's
  // VisionTransformer(num_classes=0) loads it strictly, and computes the tokens the
  // pre-training encoder computes on all RGB tokens (its modality embedding folded in).
  const auto dir = testing::fresh_dir("timm_interop_pretrain");
  auto cfg = config::load_config<config::PretrainConfig>(
      {testing::tiny_pretrain_yaml()},
      {"model.img_size=32", "model.embed_dim=24", "model.num_heads=2"});
  testing::seed(32);
  models::C2fmae model(cfg.model);
  {
    torch::NoGradGuard g;
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  auto adamw = optim::make_adamw(model->named_parameters(), cfg.optim);
  train::TrainingState state;
  train::save_checkpoint(dir + "/checkpoint-00000001.pt", *model, adamw, state);
  auto r = testing::run_command(std::string(C2FMAE_EXPORT_BIN) + " --checkpoint " + dir +
                                "/checkpoint-00000001.pt --out " + dir + "/encoder.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = python(std::string("make --out ") + dir + " " + kShape +
             " --num-classes 0 --global-pool token");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = python("check --weights " + dir + "/encoder.safetensors --dir " + dir + " " + kShape +
             " --num-classes 0 --global-pool token");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto x = formats::read_safetensors(dir + "/input.safetensors").tensors["x"];
  const auto timm = formats::read_safetensors(dir + "/timm_on_export.safetensors").tensors;
  torch::NoGradGuard g;
  model->eval();
  EXPECT_LE(rel(timm["features"], model->encode_rgb(x)), 1e-5);
  // Without the fold the export would be another encoder.
  EXPECT_GT(rel(timm["features"], model->backbone->forward_features(x)), 1e-3);
}

}  // namespace
}  // namespace c2fmae
