// The attention-guided generators' EMA encoder: the attention path, the EMA step, and its
// place in the run (checkpointed, resumed exactly); and the run's reconstruction pictures.
#include "c2fmae/train/ema_encoder.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "c2fmae/formats/image_codec.h"
#include "c2fmae/models/attention.h"
#include "c2fmae/train/checkpoint.h"
#include "c2fmae/train/pretrain_engine.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {
namespace fs = std::filesystem;

config::PretrainConfig tiny_run(const std::string& dir, std::vector<std::string> sets = {}) {
  sets.insert(sets.begin(), "train.output_dir=" + dir + "/run");  // a later set may override
  return config::load_config<config::PretrainConfig>({dir + "/tiny.yaml"}, sets);
}

/// The tiny config masked by the evolved generator alone (its EMA decay low enough to move
/// visibly in a few steps).
std::vector<std::string> evolved(std::vector<std::string> sets = {}) {
  sets.push_back("curriculum.keyframes=[{at: 0, evolved: 1}]");
  sets.push_back("masking.affinity_ema_decay=0.5");
  return sets;
}

TEST(AttentionPath, MatchesSdpaAndReturnsNormalisedWeights) {
  testing::seed(1);
  models::Attention attn(models::AttentionOptions(24, 3));
  auto x = torch::randn({2, 7, 24});
  auto [out, weights] = attn->forward_with_weights(x);
  testing::expect_close(out, attn->forward(x), 1e-5, 1e-6);
  ASSERT_EQ(weights.sizes(), (std::vector<int64_t>{2, 3, 7, 7}));
  testing::expect_close(weights.sum(-1), torch::ones({2, 3, 7}), 1e-5, 1e-6);
}

TEST(EmaEncoder, FollowsTheModelByItsDecayAndGivesAnAffinityPerImage) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_ema_step");
  const auto cfg = tiny_run(dir);
  testing::seed(0);
  models::C2fmae model(cfg.model);
  EmaEncoder ema(*model, 0.9);
  const auto before = ema.named_tensors().front().second.clone();  // backbone.cls_token
  {
    torch::NoGradGuard no_grad;
    model->backbone->cls_token.add_(1.0);
  }
  ema.update(*model);
  testing::expect_close(ema.named_tensors().front().second,
                        0.9 * before + 0.1 * model->backbone->cls_token.detach(), 1e-6, 1e-7);
  ema.reset(*model);
  EXPECT_TRUE(ema.named_tensors().front().second.equal(model->backbone->cls_token.detach()));
  const int64_t l = model->num_patches();
  auto affinity = ema.affinity(torch::randn({3, 3, 64, 64}), false);
  ASSERT_EQ(affinity.sizes(), (std::vector<int64_t>{3, l, l}));
  EXPECT_TRUE(torch::isfinite(affinity).all().item<bool>());
  EXPECT_GT(affinity.min().item<float>(), 0.0f);  // softmax weights, summed
  // Each row sums to at most depth x heads (the class column is dropped).
  EXPECT_LE(affinity.sum(-1).max().item<float>(), 2 * 3 + 1e-3);
}

TEST(EmaEncoder, RoundTripsThroughACheckpointAndResumesExactly) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_ema_resume");
  // Uninterrupted: 6 steps.
  auto whole = pretrain(
      tiny_run(dir, evolved({"train.max_steps=6", "train.output_dir=" + dir + "/whole"})), {});
  ASSERT_EQ(whole.step, 6);
  // 4 steps, then resumed to 6.
  auto first = pretrain(tiny_run(dir, evolved({"train.max_steps=4"})), {});
  auto state4 = load_checkpoint(first.checkpoint, nullptr, nullptr, torch::kCPU);
  ASSERT_FALSE(state4.extra.empty());
  std::map<std::string, torch::Tensor> stored(state4.extra.begin(), state4.extra.end());
  ASSERT_TRUE(stored.count("ema_encoder.backbone.cls_token"));
  ASSERT_TRUE(stored.count("ema_encoder.modality_embed_rgb"));
  // The stored EMA is the EMA, not the weights: with decay 0.5 after 4 steps they differ.
  models::C2fmae model(tiny_run(dir).model);
  load_checkpoint(first.checkpoint, model.ptr().get(), nullptr, torch::kCPU);
  EXPECT_FALSE(stored.at("ema_encoder.backbone.blocks.0.attn.qkv.weight")
                   .equal(model->backbone->blocks[0]->named_parameters()["attn.qkv.weight"]));
  auto resumed = pretrain(tiny_run(dir, evolved({"train.max_steps=6"})), {"auto"});
  ASSERT_EQ(resumed.step, 6);
  auto a = load_checkpoint(whole.checkpoint, nullptr, nullptr, torch::kCPU);
  auto b = load_checkpoint(resumed.checkpoint, nullptr, nullptr, torch::kCPU);
  ASSERT_EQ(a.extra.size(), b.extra.size());
  for (size_t i = 0; i < a.extra.size(); ++i) {
    EXPECT_EQ(a.extra[i].first, b.extra[i].first);
    EXPECT_TRUE(a.extra[i].second.equal(b.extra[i].second)) << a.extra[i].first;
  }
  // And so the masks and the weights: the loss lines of steps 5 and 6 are the same.
  auto tail = [](const std::string& path) {
    const auto text = testing::read_text(path);
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"step\": 5,") != std::string::npos ||
          line.find("\"step\": 6,") != std::string::npos) {
        lines.push_back(line.substr(0, line.find("\"lr\"")));  // step, epoch, loss, terms
      }
    }
    return lines;
  };
  const auto la = tail(dir + "/whole/metrics.jsonl"), lb = tail(dir + "/run/metrics.jsonl");
  ASSERT_EQ(la.size(), 2u);
  EXPECT_EQ(la, lb);
}

TEST(RunPictures, EveryPicturesEveryEpochsAndAtTheEndAsPng) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_run_pictures");
  // 40 steps per epoch: a picture after epoch 1 (step 40) and at the stop (step 43).
  auto cfg = tiny_run(dir, {"train.max_steps=43", "log.pictures_every=1", "log.pictures_count=3"});
  pretrain(cfg, {});
  const int64_t m = 3, size = 64;
  for (const char* name : {"step_00000040.png", "step_00000043.png"}) {
    const auto path = dir + "/run/pictures/" + name;
    ASSERT_TRUE(fs::exists(path)) << path;
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_EQ(formats::sniff_format(bytes.data(), bytes.size()), formats::ImageFormat::kPng);
    const auto image = formats::decode_image(bytes.data(), bytes.size());
    EXPECT_EQ(image.height, 3 * size) << name;           // one row per sample
    EXPECT_EQ(image.width, (3 + 2 * m) * size) << name;  // inputs, visible, reconstructions
  }
  // With --overwrite the old run's pictures go.
  RunOptions over;
  over.overwrite = true;
  pretrain(tiny_run(dir, {"train.max_steps=2", "log.pictures_every=1", "log.pictures_count=3"}),
           over);
  EXPECT_FALSE(fs::exists(dir + "/run/pictures/step_00000040.png"));
  EXPECT_TRUE(fs::exists(dir + "/run/pictures/step_00000002.png"));
}

}  // namespace
}  // namespace c2fmae::train
