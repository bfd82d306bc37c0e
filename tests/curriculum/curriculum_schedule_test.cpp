#include "c2fmae/curriculum/curriculum_schedule.h"

#include "c2fmae/config/pretrain_config.h"
#include "test_helpers.h"

namespace c2fmae::curriculum {
namespace {

void expect_weights(const GeneratorWeights& w, double s, double i, double r) {
  EXPECT_NEAR(w.of("semantic"), s, 1e-12);
  EXPECT_NEAR(w.of("instance"), i, 1e-12);
  EXPECT_NEAR(w.of("random"), r, 1e-12);
}

/// A loss section with these weights.
config::LossConfig loss(double s, double i, double r) {
  config::LossConfig l;
  l.weight_semantic = s;
  l.weight_instance = i;
  l.weight_rgb = r;
  return l;
}

TEST(CurriculumSchedule, DefaultIsSemanticThenInstanceThenRandom) {
  CurriculumSchedule s(config::CurriculumConfig{}, config::LossConfig{});
  // Keyframes: S at 0, I at 0.4, R at 0.8, linear.
  expect_weights(s.generator_weights(0.0), 1, 0, 0);
  expect_weights(s.generator_weights(0.1), 0.75, 0.25, 0);
  expect_weights(s.generator_weights(0.2), 0.5, 0.5, 0);
  expect_weights(s.generator_weights(0.4), 0, 1, 0);
  expect_weights(s.generator_weights(0.7), 0, 0.25, 0.75);
  expect_weights(s.generator_weights(0.9), 0, 0, 1);
  expect_weights(s.generator_weights(1.0), 0, 0, 1);
  expect_weights(s.generator_weights(-1.0), 1, 0, 0);  // clamped
  expect_weights(s.generator_weights(3.0), 0, 0, 1);
}

TEST(CurriculumSchedule, CosineAndStepInterpolation) {
  config::CurriculumConfig c;
  c.interpolation = config::CurriculumInterpolation::kCosine;
  CurriculumSchedule cosine(c, config::LossConfig{});
  const double a = 0.5 * (1 - std::cos(M_PI * 0.25));  // a quarter of the way
  expect_weights(cosine.generator_weights(0.1), 1 - a, a, 0);
  c.interpolation = config::CurriculumInterpolation::kStep;
  CurriculumSchedule step(c, config::LossConfig{});
  expect_weights(step.generator_weights(0.39), 1, 0, 0);
  expect_weights(step.generator_weights(0.4), 0, 1, 0);
  expect_weights(step.generator_weights(0.79), 0, 1, 0);
  expect_weights(step.generator_weights(0.8), 0, 0, 1);
}

TEST(CurriculumSchedule, WeightsAreNormalisedAndLossWeightsMove) {
  auto cfg = config::load_config<config::PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, semantic: 2, random: 2, weight_semantic: 2, "
           "weight_instance: 1, weight_rgb: 0}, {at: 1, random: 5, weight_semantic: 0, "
           "weight_instance: 1, weight_rgb: 2}]"});
  CurriculumSchedule s(cfg.curriculum, loss(9, 9, 9));
  expect_weights(s.generator_weights(0.0), 0.5, 0, 0.5);
  expect_weights(s.generator_weights(0.5), 0.25, 0, 0.75);
  auto lw = s.loss_weights(0.25);
  EXPECT_NEAR(lw.semantic, 1.5, 1e-12);
  EXPECT_NEAR(lw.instance, 1.0, 1e-12);
  EXPECT_NEAR(lw.rgb, 0.5, 1e-12);
  // Without loss weights in the keyframes, the loss section's weights hold throughout.
  CurriculumSchedule plain(config::CurriculumConfig{}, loss(1, 2, 3));
  EXPECT_EQ(plain.loss_weights(0.6).instance, 2);
}

TEST(CurriculumSchedule, GeneratorsAreThoseTheKeyframesNameInOrder) {
  auto cfg = config::load_config<config::PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, instance: 0.7, random: 0.3}, {at: 1, semantic: 1}]"});
  CurriculumSchedule s(cfg.curriculum, cfg.loss);
  EXPECT_EQ(s.generator_names(), (std::vector<std::string>{"instance", "random", "semantic"}));
  const auto w = s.generator_weights(0.5);
  EXPECT_EQ(w.names, s.generator_names());
  expect_weights(w, 0.5, 0.35, 0.15);
  EXPECT_EQ(w.of("block"), 0.0);
  // A partial set of loss weights moves those and keeps the loss section's for the rest.
  cfg = config::load_config<config::PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, random: 1, weight_rgb: 0}, {at: 1, random: 1, "
           "weight_rgb: 2}]",
           "loss.weight_semantic=3"});
  CurriculumSchedule partial(cfg.curriculum, cfg.loss);
  EXPECT_NEAR(partial.loss_weights(0.5).rgb, 1.0, 1e-12);
  EXPECT_EQ(partial.loss_weights(0.5).semantic, 3.0);
}

}  // namespace
}  // namespace c2fmae::curriculum

namespace c2fmae::curriculum {
namespace {

TEST(CheckCurriculumConfig, GeneratorsReadingLabelMapsNeedAPatchTheyDivideInto) {
  // An RGB-only model may use patch 14, but not with a generator that reads the maps.
  auto rgb14 = config::load_config<config::PretrainConfig>(
      {}, {"model.modalities=[rgb]", "model.patch_size=14", "model.img_size=224",
           "masking.num_visible=64", "model.decoder_mode=parallel"});
  config::Checker c(rgb14.origins);
  try {
    check_curriculum_config(rgb14.curriculum, rgb14.model, rgb14.masking, c);
    ADD_FAILURE() << "accepted the semantic generator with patch 14";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.key(), "model.patch_size");
    EXPECT_NE(std::string(e.what()).find("semantic"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("random"), std::string::npos) << e.what();
  }
  auto random_only = config::load_config<config::PretrainConfig>(
      {}, {"model.modalities=[rgb]", "model.patch_size=14", "model.img_size=224",
           "masking.num_visible=64", "model.decoder_mode=parallel",
           "curriculum.keyframes=[{at: 0, random: 1}]"});
  config::Checker ok(random_only.origins);
  EXPECT_NO_THROW(
      check_curriculum_config(random_only.curriculum, random_only.model, random_only.masking, ok));
}

TEST(CheckCurriculumConfig, AKeyframeLossWeightUnderItsOldNameSaysTheNewOne) {
  auto cfg = config::load_config<config::PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, random: 1, loss_semantic: 2}]"});
  config::Checker c(cfg.origins);
  try {
    check_generator_names(cfg.curriculum, c);
    ADD_FAILURE() << "accepted loss_semantic";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("write weight_semantic"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace c2fmae::curriculum
