#include "c2fmae/train/finetune_engine.h"

#include <cmath>
#include <filesystem>

#include "c2fmae/models/classifier.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

config::FinetuneConfig tiny_finetune(const std::vector<std::string>& sets) {
  return config::load_config<config::FinetuneConfig>(
      {std::string(C2FMAE_SOURCE_DIR) + "/configs/debug/tiny_finetune.yaml"}, sets);
}

models::ClassifierImpl& classifier(FinetuneEngine& engine) {
  return dynamic_cast<models::ClassifierImpl&>(engine.module());
}

TEST(FinetuneEngine, LinearProbeChangesNothingOfTheEncoder) {
  FinetuneEngine engine(
      tiny_finetune({"finetune.mode=linprobe", "model.global_pool=token", "finetune.mixup=0",
                     "finetune.cutmix=0", "finetune.rand_augment=none", "finetune.random_erasing=0",
                     "finetune.label_smoothing=0", "optim.weight_decay=0"}));
  auto& model = classifier(engine);
  std::vector<torch::Tensor> before;
  for (const auto& t : model.backbone->parameters()) before.push_back(t.detach().clone());
  for (const auto& t : model.backbone->buffers()) before.push_back(t.detach().clone());
  const auto head_before = model.head->weight.detach().clone();
  const auto mean_before = model.head_norm->running_mean.clone();
  for (int64_t step = 0; step < 3; ++step) {
    const auto s = engine.run_step(step);
    ASSERT_FALSE(s.skipped) << s.skip_reason;
    EXPECT_FALSE(model.backbone->is_training());  // frozen and in eval mode throughout
    EXPECT_TRUE(model.head_norm->is_training());
  }
  engine.evaluate();
  EXPECT_FALSE(model.backbone->is_training());
  size_t i = 0;
  for (const auto& t : model.backbone->parameters()) EXPECT_TRUE(torch::equal(t, before[i++]));
  for (const auto& t : model.backbone->buffers()) EXPECT_TRUE(torch::equal(t, before[i++]));
  for (const auto& p : model.backbone->parameters()) EXPECT_FALSE(p.requires_grad());
  EXPECT_FALSE(torch::equal(model.head->weight, head_before));
  EXPECT_FALSE(torch::equal(model.head_norm->running_mean, mean_before));  // BN statistics learn
}

TEST(FinetuneEngine, EvaluationSeesEveryValidationImageOnce) {
  // 50 images in batches of 8: the last batch has 2 images and 6 padding slots.
  FinetuneEngine engine(tiny_finetune({}));
  const auto e = engine.evaluate();
  const auto json = e.metrics.json();
  EXPECT_NE(json.find("\"val_images\": 50"), std::string::npos) << json;
  EXPECT_EQ(e.score_name, "val_top1");
  EXPECT_GE(e.score, 0.0);
  EXPECT_LE(e.score, 100.0);
  // Evaluation is deterministic and leaves the weights and the training mode alone.
  EXPECT_DOUBLE_EQ(engine.evaluate().score, e.score);
  EXPECT_TRUE(classifier(engine).is_training());
}

TEST(FinetuneEngine, AnEvaluationOverNaNOutputsIsNotFiniteAndNeverTheBest) {
  FinetuneEngine engine(tiny_finetune({}));
  auto good = engine.evaluate();
  EXPECT_TRUE(good.finite);
  EXPECT_TRUE(good.improves_on(std::nan("")));
  {
    torch::NoGradGuard no_grad;
    classifier(engine).head->weight.fill_(std::nan(""));
  }
  const auto e = engine.evaluate();
  EXPECT_FALSE(e.finite);  // NaN logits still rank some class first: a score, but no measure
  EXPECT_FALSE(e.improves_on(std::nan("")));
  EXPECT_FALSE(e.improves_on(-1.0));
  good.score = 50.0;
  EXPECT_TRUE(good.improves_on(40.0));
  EXPECT_FALSE(good.improves_on(50.0));
}

TEST(FinetuneEngine, FineTuningFitsASmallTrainingSet) {
  // 32 scenes, whole and unflipped, no augmentation: 240 steps of the MAE recipe's machinery
  // (layer decay, drop path off, AdamW, warm-up + cosine) must fit them from random
  // initialisation. (What pre-training adds to learning the label: docs/DEMO.md.)
  FinetuneEngine engine(
      tiny_finetune({"train.epochs=60", "data.synthetic_samples=32", "finetune.mixup=0",
                     "finetune.cutmix=0", "finetune.rand_augment=none", "finetune.random_erasing=0",
                     "finetune.label_smoothing=0", "model.drop_path=0", "data.crop_scale_min=1",
                     "data.hflip=0", "finetune.layer_decay=0.75", "optim.warmup_epochs=2"}));
  const int64_t total = engine.total_steps();
  ASSERT_EQ(total, 240);
  double first = 0, last = 0;
  for (int64_t step = 0; step < total; ++step) {
    const auto s = engine.run_step(step);
    ASSERT_FALSE(s.skipped) << s.skip_reason;
    if (step < 8) first += s.loss / 8;
    if (step >= total - 8) last += s.loss / 8;
  }
  EXPECT_NEAR(first, std::log(6.0), 0.3);
  EXPECT_LT(last, 0.5) << "first " << first << " last " << last;
}

TEST(FinetuneEngine, RefusesBadRecipes) {
  EXPECT_THROW(FinetuneEngine(tiny_finetune({"finetune.rand_augment=rand-x9"})),
               config::ConfigError);
  EXPECT_THROW(FinetuneEngine(tiny_finetune({"finetune.mode=eval"})),
               config::ConfigError);  // no weights
  EXPECT_THROW(FinetuneEngine(tiny_finetune({"data.batch_size=7"})),
               config::ConfigError);  // mixup pairs
  EXPECT_THROW(FinetuneEngine(tiny_finetune({"train.pretrained=/nonexistent.pt"})),
               config::ConfigError);
  EXPECT_THROW(FinetuneEngine(tiny_finetune({"model.num_classes=3"})), std::exception);  // 6 labels
}

}  // namespace
}  // namespace c2fmae::train
