#include "c2fmae/models/c2fmae_model.h"

#include <algorithm>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/mask.h"
#include "c2fmae/core/patchify.h"
#include "c2fmae/losses/c2fmae_loss.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/models/cross_block.h"
#include "test_helpers.h"

namespace c2fmae::models {
namespace {

config::PretrainConfig tiny_config(std::vector<std::string> sets = {}) {
  std::vector<std::string> base = {
      "model.preset=tiny",     "model.img_size=64",     "model.embed_dim=32",
      "model.depth=2",         "model.num_heads=4",     "model.decoder_dim=16",
      "model.decoder_depth=1", "model.decoder_heads=2", "model.num_semantic_classes=6",
      "masking.num_visible=12"};
  base.insert(base.end(), sets.begin(), sets.end());
  auto cfg = config::load_config<config::PretrainConfig>({}, base);
  cfg.validate();
  return cfg;
}

Batch masked_batch(const config::PretrainConfig& cfg, int64_t b, uint64_t seed) {
  auto batch = testing::random_maps(b, cfg.model.img_size, 6, seed);
  batch.semantic = torch::where(batch.semantic == 255, 255, batch.semantic % 6);
  const auto spec = masking::MaskSpec::from_config(cfg.model, cfg.masking);
  batch.mask = masking::make_generator("semantic", spec, cfg.masking)->generate(batch, seed);
  return batch;
}

TEST(C2fmaeModel, ShapesAndDtypesThroughEveryModule) {
  testing::seed(13);
  auto cfg = tiny_config();
  C2fmae model(cfg.model);
  auto batch = masked_batch(cfg, 3, 1);
  auto tokens = model->embed_tokens(batch);
  EXPECT_EQ(tokens.sizes(), (torch::IntArrayRef{3, 3 * 16, 32}));
  auto out = model->forward(batch, /*all_tokens=*/true);
  EXPECT_EQ(out.visible.sizes(), (torch::IntArrayRef{3, 12}));
  EXPECT_EQ(out.encoded.sizes(), (torch::IntArrayRef{3, 13, 32}));
  ASSERT_EQ(out.predictions.size(), 3u);
  EXPECT_EQ(out.predictions[0].sizes(), (torch::IntArrayRef{3 * 16, 6 * 16}));  // C x 4 x 4
  EXPECT_EQ(out.predictions[1].sizes(), (torch::IntArrayRef{3 * 16, 8 * 16}));  // E x 4 x 4
  EXPECT_EQ(out.predictions[2].sizes(), (torch::IntArrayRef{3 * 16, 16 * 16 * 3}));
  for (const auto& p : out.predictions) EXPECT_EQ(p.scalar_type(), torch::kFloat);
  EXPECT_EQ(out.visible.scalar_type(), torch::kLong);
  // By default the heads predict the masked tokens only, the same values.
  torch::manual_seed(1);
  auto all = model->forward(batch, true);
  torch::manual_seed(1);
  auto masked = model->forward(batch);
  for (int64_t m = 0; m < 3; ++m) {
    auto rows = batch.mask.select(1, m).flatten().nonzero().flatten();
    EXPECT_TRUE(masked.rows[m].equal(rows)) << m;
    testing::expect_close(masked.predictions[m], all.predictions[m].index_select(0, rows), 1e-4,
                          1e-5);
  }
  // Indices the loader attached are used as they are (no host read of the mask).
  attach_token_indices(batch);
  EXPECT_TRUE(batch.visible.equal(out.visible));
}

TEST(C2fmaeModel, DecoderContextCarriesPositionAndSource) {
  // Moving an encoder token's visible index to another patch, or to another modality,
  // changes a cascade stage's prediction through its context embeddings alone.
  testing::seed(18);
  auto cfg = tiny_config();
  C2fmae model(cfg.model);
  model->eval();
  auto stage = model->decoder->stages[2]->as<DecoderStage>();
  ASSERT_TRUE(stage->context_embed.defined());
  EXPECT_EQ(stage->context_embed.sizes(), (torch::IntArrayRef{3, 16}));
  ASSERT_TRUE(stage->previous_embed.defined());
  EXPECT_FALSE(model->decoder->stages[0]->as<DecoderStage>()->previous_embed.defined());
  auto encoded = torch::randn({1, 3, 32});
  auto base = torch::tensor({{0, 17}}, torch::kLong);     // semantic patch 0, instance patch 1
  auto moved = torch::tensor({{1, 17}}, torch::kLong);    // semantic patch 1
  auto source = torch::tensor({{16, 17}}, torch::kLong);  // instance patch 0
  auto y = [&](const torch::Tensor& v) { return stage->forward(encoded, v, 2, {}).prediction; };
  EXPECT_FALSE(torch::allclose(y(base), y(moved)));
  EXPECT_FALSE(torch::allclose(y(base), y(source)));
  // With the modality embedding zeroed, a key's source is invisible; its position is not.
  {
    torch::NoGradGuard g;
    stage->context_embed.zero_();
  }
  EXPECT_TRUE(torch::allclose(y(base), y(source), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(y(base), y(moved)));
}

TEST(C2fmaeModel, MultimaeDecoderChoicesAreConfigKeys) {
  testing::seed(19);
  auto ours = tiny_config();
  auto multimae =
      tiny_config({"model.decoder_cross_residual=false", "model.decoder_final_norm=false",
                   "model.decoder_fp32_semantic=true"});
  C2fmae a(ours.model), b(multimae.model);
  auto stage_a = a->decoder->stages[0]->as<DecoderStage>();
  auto stage_b = b->decoder->stages[0]->as<DecoderStage>();
  EXPECT_TRUE(stage_a->norm);
  EXPECT_FALSE(stage_b->norm);
  EXPECT_TRUE(stage_a->cross_blocks[0]->as<CrossBlock>()->residual);
  EXPECT_FALSE(stage_b->cross_blocks[0]->as<CrossBlock>()->residual);
  EXPECT_TRUE(stage_b->options.fp32());
  EXPECT_FALSE(b->decoder->stages[1]->as<DecoderStage>()->options.fp32());
  auto batch = masked_batch(multimae, 2, 6);
  auto out = b->forward(batch);
  for (const auto& p : out.predictions) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST(C2fmaeModel, GradientsReachAllAdaptersAndDecoderStages) {
  testing::seed(14);
  auto cfg = tiny_config();
  C2fmae model(cfg.model);
  auto batch = masked_batch(cfg, 4, 2);
  auto out = model->forward(batch);
  losses::C2fmaeLoss loss_fn(cfg.model, cfg.loss);
  loss_fn(out.predictions, out.rows, batch, ModalityWeights{}).total.backward();
  std::map<std::string, double> grad_by_group;
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    ASSERT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    // Group: "decoder.stages.N" for decoder stages, "backbone.X" in the backbone, else the
    // first name component.
    const auto& k = p.key();
    const bool stage = k.rfind("decoder.stages.", 0) == 0;
    const bool backbone = k.rfind("backbone.", 0) == 0;
    const auto cut = stage      ? k.find('.', std::string("decoder.stages.").size())
                     : backbone ? k.find('.', std::string("backbone.").size())
                                : k.find('.');
    grad_by_group[k.substr(0, cut)] += p.value().grad().abs().sum().item<double>();
  }
  for (const char* group :
       {"semantic_adapter", "instance_adapter", "backbone.patch_embed", "backbone.cls_token",
        "backbone.blocks", "backbone.norm", "decoder.stages.0", "decoder.stages.1",
        "decoder.stages.2", "modality_embed"}) {
    ASSERT_TRUE(grad_by_group.count(group)) << group;
    EXPECT_GT(grad_by_group[group], 0.0) << group;
  }
}

TEST(C2fmaeModel, CudaForwardMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  testing::seed(15);
  auto cfg = tiny_config();
  C2fmae cpu(cfg.model);
  cpu->eval();  // identity slot permutation: deterministic on both devices
  auto gpu = std::dynamic_pointer_cast<C2fmaeImpl>(cpu->clone(torch::Device(torch::kCUDA)));
  auto batch = masked_batch(cfg, 4, 5);
  auto a = cpu->forward(batch);
  auto b = gpu->forward(batch.to(torch::kCUDA));
  for (size_t i = 0; i < a.predictions.size(); ++i) {
    const auto scale = a.predictions[i].abs().max().item<double>();
    EXPECT_LE((b.predictions[i].cpu() - a.predictions[i]).abs().max().item<double>(), 1e-2 * scale)
        << i;
  }
}

TEST(C2fmaeModel, MaeModeIsAConfigWithOnlyRgb) {
  auto cfg = tiny_config({"model.modalities=[rgb]", "masking.num_visible=4",
                          "model.decoder_mode=parallel", "model.decoder_cross_blocks=0"});
  C2fmae model(cfg.model);
  EXPECT_TRUE(model->backbone);
  EXPECT_FALSE(model->semantic_adapter);
  EXPECT_FALSE(model->instance_adapter);
  EXPECT_EQ(model->decoder->stages->size(), 1u);
  Batch batch;
  batch.rgb = torch::randn({2, 3, 64, 64});
  const auto spec = masking::MaskSpec::from_config(cfg.model, cfg.masking);
  batch.mask = masking::make_generator("random", spec, cfg.masking)->generate(batch, 0);
  auto out = model->forward(batch);
  EXPECT_EQ(out.encoded.sizes(), (torch::IntArrayRef{2, 5, 32}));
}

TEST(C2fmaeModel, ClearErrorsForBadInputs) {
  auto cfg = tiny_config();
  C2fmae model(cfg.model);
  auto batch = masked_batch(cfg, 2, 3);
  auto no_mask = batch;
  no_mask.mask = torch::Tensor();
  EXPECT_THROW(model->forward(no_mask), c10::Error);
  auto wrong = batch;
  wrong.mask = batch.mask.narrow(1, 0, 2);
  EXPECT_THROW(model->forward(wrong), c10::Error);
  auto small = batch;
  small.rgb = torch::randn({2, 3, 32, 32});
  try {
    model->forward(small);
    ADD_FAILURE() << "accepted a 32 px image for a 64 px model";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("img_size"), std::string::npos);
  }
}

TEST(C2fmaeModel, EncoderIsTheTimmNamedBackbone) {
  auto cfg = tiny_config();
  C2fmae model(cfg.model);
  // Export is "strip backbone.": every encoder weight is under it, named as timm's.
  std::vector<std::string> stripped, exported;
  auto collect = [&](const std::string& key) {
    if (key.rfind("backbone.", 0) == 0) stripped.push_back(key.substr(9));
  };
  for (const auto& p : model->named_parameters()) collect(p.key());
  for (const auto& b : model->named_buffers()) collect(b.key());
  for (const auto& kv : timm_state_dict(*model)) exported.push_back(kv.key());
  std::sort(stripped.begin(), stripped.end());
  std::sort(exported.begin(), exported.end());
  EXPECT_EQ(stripped, exported);
  EXPECT_EQ(exported.size(), 4u + 2 * 12 + 2);  // cls, pos, patch_embed x 2, blocks, norm
  for (const auto& p : model->named_parameters()) {
    const auto& k = p.key();
    EXPECT_TRUE(k.rfind("backbone.", 0) == 0 || k.rfind("semantic_adapter.", 0) == 0 ||
                k.rfind("instance_adapter.", 0) == 0 || k.rfind("decoder.", 0) == 0 ||
                k == "modality_embed")
        << k;
  }
  // Semantic and instance tokens take the backbone's patch positions too.
  auto batch = masked_batch(cfg, 2, 4);
  auto tokens = model->embed_tokens(batch);  // [B, 3 L, D]
  auto sem = model->semantic_adapter(label_resolution(batch.semantic, 64)) +
             model->backbone->patch_pos_embed() + model->modality_embed[0];
  EXPECT_TRUE(torch::equal(tokens.narrow(1, 0, 16), sem));
  auto rgb = model->backbone->patch_tokens(batch.rgb) + model->modality_embed[2];
  EXPECT_TRUE(torch::equal(tokens.narrow(1, 32, 16), rgb));
}

struct WithTorchLayerNorm : torch::nn::Module {
  WithTorchLayerNorm() {
    fc = register_module("fc", torch::nn::Linear(4, 4));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4})));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};

struct WithOurLayerNorm : torch::nn::Module {
  WithOurLayerNorm() {
    norm = register_module("norm", LayerNorm(4));
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, 64}));
  }
  LayerNorm norm{nullptr};
  torch::Tensor cls_token;
};

TEST(InitMaeWeights, RefusesTorchLayerNormAndLeavesTheModuleAsItWas) {
  testing::seed(16);
  WithTorchLayerNorm m;
  auto before = m.fc->weight.clone();
  try {
    init_mae_weights(m);
    ADD_FAILURE() << "init_mae_weights accepted a torch::nn::LayerNorm";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("norm"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("models::LayerNorm"), std::string::npos);
  }
  EXPECT_TRUE(torch::equal(m.fc->weight, before));
}

TEST(InitMaeWeights, UnitLayerNormsAndNormalClassToken) {
  testing::seed(17);
  WithOurLayerNorm m;
  {
    torch::NoGradGuard g;
    m.norm->weight.normal_();
    m.norm->bias.normal_();
  }
  init_mae_weights(m);
  EXPECT_TRUE(torch::equal(m.norm->weight, torch::ones({4})));
  EXPECT_TRUE(torch::equal(m.norm->bias, torch::zeros({4})));
  const double sd = m.cls_token.std().item<double>();
  EXPECT_GT(sd, 0.01);
  EXPECT_LT(sd, 0.04);
}

}  // namespace
}  // namespace c2fmae::models
