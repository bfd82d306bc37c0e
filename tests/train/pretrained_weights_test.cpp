#include "c2fmae/train/pretrained_weights.h"

#include <filesystem>
#include <fstream>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/formats/safetensors.h"
#include "c2fmae/models/block.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/models/classifier.h"
#include "c2fmae/optim/adamw.h"
#include "c2fmae/train/checkpoint.h"
#include "c2fmae/train/encoder_export.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {
namespace fs = std::filesystem;

config::PretrainConfig tiny_pretrain() {
  return config::load_config<config::PretrainConfig>({testing::tiny_pretrain_yaml()}, {});
}

models::ClassifierOptions tiny_classifier(const config::PretrainConfig& cfg) {
  return models::ClassifierOptions(
      models::VisionTransformerOptions::from_config(cfg.model).learned_pos_embed(true), 6);
}

/// A pre-training checkpoint of the tiny model with non-trivial weights.
std::string pretrain_checkpoint(const std::string& dir, models::C2fmae& model) {
  testing::seed(11);
  auto cfg = tiny_pretrain();
  model = models::C2fmae(cfg.model);
  torch::NoGradGuard g;
  for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.1);
  auto adamw = optim::make_adamw(model->named_parameters(), cfg.optim);
  const auto path = dir + "/checkpoint-00000010.pt";
  TrainingState state;
  state.step = 10;
  save_checkpoint(path, *model, adamw, state);
  return path;
}

TEST(PretrainedWeights, AClassifierTakesThePretrainingBackboneAndReportsTheRest) {
  const auto dir = testing::fresh_dir("pretrained_weights_backbone");
  models::C2fmae pre{nullptr};
  const auto path = pretrain_checkpoint(dir, pre);
  const auto file = read_weights(path);
  EXPECT_EQ(file.kind, "c2fmae checkpoint (step 10)");
  models::Classifier cls(tiny_classifier(tiny_pretrain()));
  const auto report = load_weights(*cls, file);
  for (const auto& p : pre->backbone->named_parameters()) {
    if (p.key().rfind("norm.", 0) == 0) continue;      // avg pooling: no final norm (fc_norm)
    if (p.key() == "patch_embed.proj.bias") continue;  // the rgb modality embedding folded in
    EXPECT_TRUE(torch::equal(cls->backbone->named_parameters()[p.key()], p.value())) << p.key();
  }
  EXPECT_TRUE(torch::allclose(
      cls->backbone->named_parameters()["patch_embed.proj.bias"],
      pre->backbone->named_parameters()["patch_embed.proj.bias"] + pre->modality_embed[2]));
  EXPECT_TRUE(torch::equal(cls->backbone->pos_embed, pre->backbone->pos_embed));
  // fc_norm and the head are new; the decoder, adapters and final norm are left out.
  const auto text = report.text();
  EXPECT_NE(text.find("head.weight"), std::string::npos) << text;
  EXPECT_NE(text.find("fc_norm.weight"), std::string::npos) << text;
  EXPECT_NE(text.find("left out"), std::string::npos) << text;
  EXPECT_NE(text.find("backbone.norm.weight"), std::string::npos) << text;
  bool decoder_left = false;
  for (const auto& n : report.left_out) decoder_left |= n.rfind("decoder.", 0) == 0;
  EXPECT_TRUE(decoder_left);
}

TEST(PretrainedWeights, TheWholeEncoderLeavesPretrainingWithItsRgbModalityEmbedding) {
  // The pre-training encoder on all RGB tokens, a classifier's backbone loaded from its
  // checkpoint, and one loaded from the c2fmae_export tensors compute the same tokens.
  const auto dir = testing::fresh_dir("pretrained_weights_fold");
  models::C2fmae pre{nullptr};
  const auto path = pretrain_checkpoint(dir, pre);
  ASSERT_GT(pre->modality_embed[2].abs().max().item<double>(), 0.01);
  const auto file = read_weights(path);
  testing::seed(3);
  const auto x = torch::randn({2, 3, 64, 64});
  torch::NoGradGuard g;
  pre->eval();
  const auto expected = pre->encode_rgb(x);
  auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a - b).norm() / b.norm()).item<double>();
  };
  models::Classifier cls(tiny_classifier(tiny_pretrain()).global_pool(config::GlobalPool::kToken));
  const auto report = load_weights(*cls, file);
  EXPECT_TRUE(report.rgb_folded);
  EXPECT_NE(report.text().find("folded"), std::string::npos);
  cls->eval();
  EXPECT_LE(rel(cls->backbone->forward_features(x), expected), 1e-5);
  WeightsFile exported;
  exported.path = "export";
  exported.kind = "safetensors";
  exported.tensors = export_tensors(file, ExportPart::kEncoder);
  EXPECT_EQ(exported.tensors.find("modality_embed"), nullptr);
  models::Classifier from_export(
      tiny_classifier(tiny_pretrain()).global_pool(config::GlobalPool::kToken));
  EXPECT_FALSE(load_weights(*from_export, exported).rgb_folded);
  from_export->eval();
  EXPECT_LE(rel(from_export->backbone->forward_features(x), expected), 1e-5);
  // A pre-training model keeps its own modality embedding: nothing is folded.
  models::C2fmae again(tiny_pretrain().model);
  EXPECT_FALSE(load_weights(*again, file).rgb_folded);
  again->eval();
  EXPECT_TRUE(torch::equal(again->encode_rgb(x), expected));
}

TEST(PretrainedWeights, NonFiniteWeightsAreRefusedNamingTheTensor) {
  const auto dir = testing::fresh_dir("pretrained_weights_nan");
  models::C2fmae pre{nullptr};
  auto file = read_weights(pretrain_checkpoint(dir, pre));
  file.tensors["backbone.blocks.0.attn.qkv.weight"][0][0] = std::nan("");
  models::Classifier cls(tiny_classifier(tiny_pretrain()));
  try {
    load_weights(*cls, file);
    FAIL() << "NaN weights loaded";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("backbone.blocks.0.attn.qkv.weight"), std::string::npos)
        << e.what();
  }
}

TEST(PretrainedWeights, APosEmbedOfNoGridIsRefusedAndIntegerTensorsAreNamedInAWarning) {
  const auto dir = testing::fresh_dir("pretrained_weights_no_grid");
  const auto cfg = tiny_pretrain();
  models::Classifier cls(tiny_classifier(cfg).global_pool(config::GlobalPool::kToken));
  for (const int64_t tokens : {0, 1}) {  // no grid at all, a class token and a 0 x 0 grid
    torch::OrderedDict<std::string, torch::Tensor> vit;
    for (const auto& p : cls->backbone->named_parameters()) vit.insert(p.key(), p.value().detach());
    vit["pos_embed"] = torch::zeros({1, tokens, 48});
    formats::write_safetensors(dir + "/vit.safetensors", vit);
    try {
      load_weights(*cls, read_weights(dir + "/vit.safetensors"));
      ADD_FAILURE() << "a pos_embed of " << tokens << " tokens loaded";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("pos_embed has shape"), std::string::npos) << e.what();
    }
  }
  // A float64 value finite as such but infinite as the model's float32.
  {
    torch::OrderedDict<std::string, torch::Tensor> wide;
    for (const auto& p : cls->backbone->named_parameters())
      wide.insert(p.key(), p.value().detach().to(torch::kDouble));
    wide["cls_token"][0][0][0] = 1e300;
    formats::write_safetensors(dir + "/wide.safetensors", wide);
    try {
      load_weights(*cls, read_weights(dir + "/wide.safetensors"));
      ADD_FAILURE() << "1e300 loaded into float32";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("cls_token holds NaN or infinite values as the model's"),
                std::string::npos)
          << e.what();
    }
  }
  // Integers where the model has floats: loaded (converted), named in the log.
  torch::OrderedDict<std::string, torch::Tensor> ints;
  for (const auto& p : cls->backbone->named_parameters()) ints.insert(p.key(), p.value().detach());
  ints["cls_token"] = torch::ones({1, 1, 48}, torch::kLong);
  formats::write_safetensors(dir + "/ints.safetensors", ints);
  const auto log_path = dir + "/train.log";
  log::add_file_sink(log_path);
  load_weights(*cls, read_weights(dir + "/ints.safetensors"));
  log::remove_file_sink(log_path);
  EXPECT_NE(testing::read_text(log_path).find("cls_token is stored as Long"), std::string::npos)
      << testing::read_text(log_path);
  EXPECT_TRUE(torch::equal(cls->backbone->cls_token, torch::ones({1, 1, 48})));
}

TEST(PretrainedWeights, ClassNamesKeepAnyByteAndDamagedOnesReadAsNone) {
  const std::vector<std::string> names = {"ring", "ri\nng", "", "a:b", "12:x"};
  EXPECT_EQ(class_names_of(class_names_tensor(names)), names);
  auto damaged = class_names_tensor({"ring"});
  damaged[0] = static_cast<uint8_t>('9');  // "9:ring" runs past the end
  EXPECT_TRUE(class_names_of(damaged).empty());
  EXPECT_TRUE(class_names_of(torch::zeros({3}, torch::kFloat)).empty());
  EXPECT_NO_THROW(check_head_classes({}, "x.pt", {"a"}, "val"));  // unknown: not compared
  EXPECT_THROW(check_head_classes({"a", "b"}, "x.pt", {"a", "c"}, "val"), UsageError);
}

TEST(PretrainedWeights, TimmNamesFeedTheBackboneAndPositionsAreResized) {
  const auto dir = testing::fresh_dir("pretrained_weights_timm");
  testing::seed(12);
  auto cfg = tiny_pretrain();
  models::Classifier source(tiny_classifier(cfg).global_pool(config::GlobalPool::kToken));
  torch::OrderedDict<std::string, torch::Tensor> timm;
  for (const auto& p : source->backbone->named_parameters())
    timm.insert(p.key(), p.value().detach() + 0.5);
  timm.insert("mask_token", torch::zeros({1, 1, 48}));
  formats::write_safetensors(dir + "/vit.safetensors", timm);
  // Same grid: everything of the backbone loads; mask_token is left out.
  models::Classifier same(tiny_classifier(cfg).global_pool(config::GlobalPool::kToken));
  const auto report = load_weights(*same, read_weights(dir + "/vit.safetensors"));
  EXPECT_TRUE(torch::equal(same->backbone->blocks[0]->as<models::Block>()->attn->qkv->weight,
                           timm["blocks.0.attn.qkv.weight"]));
  ASSERT_EQ(report.left_out.size(), 1u);
  EXPECT_EQ(report.left_out[0], "mask_token");
  // A model at 96 px (6 x 6 patches) gets pos_embed resized from the 4 x 4 grid.
  cfg.model.img_size = 96;
  models::Classifier larger(tiny_classifier(cfg).global_pool(config::GlobalPool::kToken));
  const auto resized = load_weights(*larger, read_weights(dir + "/vit.safetensors"));
  ASSERT_EQ(resized.resized.size(), 1u);
  EXPECT_EQ(larger->backbone->pos_embed.size(1), 37);
  EXPECT_TRUE(torch::equal(larger->backbone->pos_embed[0][0], timm["pos_embed"][0][0]));
}

TEST(PretrainedWeights, RefusesWhatIsNotAnEncoderOfThisShape) {
  const auto dir = testing::fresh_dir("pretrained_weights_refuse");
  auto cfg = tiny_pretrain();
  models::Classifier cls(tiny_classifier(cfg));
  // Not a weights file at all.
  { std::ofstream(dir + "/junk.bin") << "hello world, not weights"; }
  EXPECT_THROW(read_weights(dir + "/junk.bin"), UsageError);
  EXPECT_THROW(read_weights(dir + "/missing.pt"), UsageError);
  EXPECT_THROW(read_weights(dir), UsageError);
  // Another width: named, with both shapes.
  torch::OrderedDict<std::string, torch::Tensor> wide;
  wide.insert("cls_token", torch::zeros({1, 1, 64}));
  formats::write_safetensors(dir + "/wide.safetensors", wide);
  try {
    load_weights(*cls, read_weights(dir + "/wide.safetensors"));
    FAIL() << "a 64-wide cls_token loaded into a 48-wide model";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 1, 64]"), std::string::npos) << e.what();
  }
  // Nothing of an encoder.
  torch::OrderedDict<std::string, torch::Tensor> other;
  other.insert("decoder.weight", torch::zeros({3}));
  formats::write_safetensors(dir + "/other.safetensors", other);
  EXPECT_THROW(load_weights(*cls, read_weights(dir + "/other.safetensors")), UsageError);
  // A deeper encoder (or LayerScale gammas): refused, naming the tensors it would drop.
  torch::OrderedDict<std::string, torch::Tensor> deeper;
  for (const auto& p : cls->backbone->named_parameters())
    deeper.insert(p.key(), p.value().detach());
  deeper.insert("blocks.2.norm1.weight", torch::ones({48}));
  deeper.insert("blocks.0.ls1.gamma", torch::ones({48}));
  formats::write_safetensors(dir + "/deeper.safetensors", deeper);
  try {
    load_weights(*cls, read_weights(dir + "/deeper.safetensors"));
    FAIL() << "a deeper encoder loaded";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.*.ls1.gamma"), std::string::npos) << e.what();
  }
  // Part of an encoder: refused, naming what is missing.
  torch::OrderedDict<std::string, torch::Tensor> part;
  part.insert("cls_token", cls->backbone->cls_token.detach().clone());
  formats::write_safetensors(dir + "/part.safetensors", part);
  EXPECT_THROW(load_weights(*cls, read_weights(dir + "/part.safetensors")), UsageError);
}

TEST(PretrainedWeights, AHeadForOtherClassesIsLeftOut) {
  const auto dir = testing::fresh_dir("pretrained_weights_head");
  auto cfg = tiny_pretrain();
  models::Classifier ten(models::ClassifierOptions(
      models::VisionTransformerOptions::from_config(cfg.model).learned_pos_embed(true), 10));
  torch::OrderedDict<std::string, torch::Tensor> t;
  for (const auto& p : ten->named_parameters()) t.insert(p.key(), p.value().detach());
  formats::write_safetensors(dir + "/ten.safetensors", t);
  models::Classifier six(tiny_classifier(cfg));
  const auto report = load_weights(*six, read_weights(dir + "/ten.safetensors"));
  EXPECT_NE(report.text().find("head.weight (shape [10, 48]"), std::string::npos) << report.text();
  EXPECT_TRUE(torch::equal(six->fc_norm->weight, ten->fc_norm->weight));
}

}  // namespace
}  // namespace c2fmae::train
