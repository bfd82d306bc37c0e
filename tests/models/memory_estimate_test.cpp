#include "c2fmae/models/memory_estimate.h"

#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/models/classifier.h"
#include "test_helpers.h"

namespace c2fmae::models {
namespace {

int64_t count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(MemoryEstimate, CountsThePretrainingModelsParameters) {
  for (const auto& [preset, modalities, mode] :
       std::vector<std::tuple<std::string, std::vector<Modality>, config::DecoderMode>>{
           {"tiny",
            {Modality::kSemantic, Modality::kInstance, Modality::kRgb},
            config::DecoderMode::kCascade},
           {"small", {Modality::kRgb}, config::DecoderMode::kParallel},
           {"tiny", {Modality::kSemantic, Modality::kRgb}, config::DecoderMode::kParallel}}) {
    config::ModelConfig cfg;
    cfg.preset = preset;
    cfg.img_size = 64;
    cfg.modalities = modalities;
    cfg.decoder_mode = mode;
    C2fmae model(cfg);
    const auto estimate = pretrain_memory(cfg, 16, 4.0);
    EXPECT_NEAR(static_cast<double>(estimate.parameters), static_cast<double>(count(*model)),
                0.01 * static_cast<double>(count(*model)))
        << preset << " with " << modalities.size() << " modalities";
  }
}

TEST(MemoryEstimate, CountsTheClassifiersParametersAndGrowsWithTokensAndBatch) {
  config::ClassifierConfig cfg;
  cfg.preset = "tiny";
  cfg.img_size = 64;
  Classifier model(ClassifierOptions(
      VisionTransformerOptions::from_config(cfg.encoder()).learned_pos_embed(true), 10));
  const auto trains = classifier_memory(cfg, 10, true, 4.0);
  EXPECT_NEAR(static_cast<double>(trains.parameters), static_cast<double>(count(*model)),
              0.01 * static_cast<double>(count(*model)));
  // A frozen encoder keeps no graph; bf16 halves; four times the pixels, about four times.
  EXPECT_LT(classifier_memory(cfg, 10, false, 4.0).activations_per_sample,
            trains.activations_per_sample / 5);
  EXPECT_DOUBLE_EQ(classifier_memory(cfg, 10, true, 2.0).activations_per_sample,
                   trains.activations_per_sample / 2);
  cfg.img_size = 128;
  EXPECT_GT(classifier_memory(cfg, 10, true, 4.0).activations_per_sample,
            3.5 * trains.activations_per_sample);
}

}  // namespace
}  // namespace c2fmae::models
