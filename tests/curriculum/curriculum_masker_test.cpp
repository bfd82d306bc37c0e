#include "c2fmae/curriculum/curriculum_masker.h"

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/mask.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/masking/generator_registry.h"
#include "test_helpers.h"

namespace c2fmae::curriculum {
namespace {

config::PretrainConfig small_config() {
  return config::load_config<config::PretrainConfig>(
      {}, {"model.img_size=64", "masking.num_visible=20"});
}

/// The masker and schedule of a config's curriculum.
struct Curriculum {
  explicit Curriculum(const config::PretrainConfig& cfg)
      : schedule(cfg.curriculum, cfg.loss),
        masker(masking::MaskSpec::from_config(cfg.model, cfg.masking), cfg.masking,
               schedule.generator_names()) {}
  torch::Tensor mask(const Batch& batch, int64_t step, int64_t total, uint64_t seed) const {
    return masker.make_mask(batch, schedule.generator_weights(double(step) / total), seed, step);
  }
  CurriculumSchedule schedule;
  CurriculumMasker masker;
};

TEST(CurriculumMasker, ExactCountsAndDeterministicInSeedAndStep) {
  Curriculum c(small_config());
  auto batch = testing::random_maps(12, 64, 4, 0);
  for (int64_t step : {0, 30, 55, 99}) {
    auto mask = c.mask(batch, step, 100, 7);
    EXPECT_NO_THROW(check_mask(mask, 3, 16, 20));
    EXPECT_TRUE(mask.equal(c.mask(batch, step, 100, 7)));
  }
  EXPECT_FALSE(c.mask(batch, 1, 100, 7).equal(c.mask(batch, 2, 100, 7)));
}

TEST(CurriculumMasker, DispatchesToTheScheduledGenerator) {
  auto cfg = small_config();
  Curriculum c(cfg);
  auto batch = testing::random_maps(6, 64, 4, 1);
  const auto spec = c.masker.spec();
  // Progress 0: all semantic; progress 1: all random (default keyframes).
  auto semantic = masking::make_generator("semantic", spec, cfg.masking);
  auto random = masking::make_generator("random", spec, cfg.masking);
  EXPECT_TRUE(c.mask(batch, 0, 100, 3).equal(semantic->generate(batch, mix_seed({3, 0, 0}))));
  EXPECT_TRUE(c.mask(batch, 100, 100, 3).equal(random->generate(batch, mix_seed({3, 100, 2}))));
}

TEST(CurriculumMasker, SplitsTheBatchOverAnyNumberOfGenerators) {
  auto cfg = small_config();
  const auto spec = masking::MaskSpec::from_config(cfg.model, cfg.masking);
  CurriculumMasker masker(spec, cfg.masking, {"random", "instance"});
  auto batch = testing::random_maps(9, 64, 4, 2);
  GeneratorWeights only_instance{{"random", "instance"}, {0.0, 1.0}};
  auto instance = masking::make_generator("instance", spec, cfg.masking);
  EXPECT_TRUE(masker.make_mask(batch, only_instance, 5, 1)
                  .equal(instance->generate(batch, mix_seed({5, 1, 1}))));
  GeneratorWeights half{{"random", "instance"}, {0.5, 0.5}};
  EXPECT_NO_THROW(check_mask(masker.make_mask(batch, half, 5, 1), 3, 16, 20));
  EXPECT_THROW(CurriculumMasker(spec, cfg.masking, {"nonesuch"}), std::invalid_argument);
}

TEST(CurriculumMasker, SlicesOfAGlobalBatchAreMaskedAsTheWholeBatch) {
  // Samples keyed by their global position: a batch of 8 masked whole equals its two halves
  // masked as slices of the global batch (two processes of batch 4).
  auto cfg = small_config();
  const auto spec = masking::MaskSpec::from_config(cfg.model, cfg.masking);
  CurriculumMasker masker(spec, cfg.masking, {"random", "instance", "semantic"});
  auto batch = testing::random_maps(8, 64, 4, 3);
  batch.position = torch::arange(100, 108, torch::kLong);
  GeneratorWeights w{{"random", "instance", "semantic"}, {0.4, 0.3, 0.3}};
  const auto whole = masker.make_mask(batch, w, 11, 4);
  using torch::indexing::Slice;
  for (int64_t half = 0; half < 2; ++half) {
    auto part = batch.select(torch::arange(4 * half, 4 * half + 4, torch::kLong));
    EXPECT_TRUE(masker.make_mask(part, w, 11, 4, 4 * half, 8)
                    .equal(whole.index({Slice(4 * half, 4 * half + 4)})))
        << half;
  }
  // Keyed by position, not by the slot: the same sample elsewhere in a batch draws alike.
  auto reversed = batch.select(torch::arange(7, -1, -1, torch::kLong));
  GeneratorWeights random_only{{"random", "instance", "semantic"}, {1.0, 0.0, 0.0}};
  EXPECT_TRUE(masker.make_mask(reversed, random_only, 11, 4)
                  .equal(masker.make_mask(batch, random_only, 11, 4).flip(0)));
  EXPECT_THROW(masker.make_mask(batch, w, 11, 4, 4, 8), c10::Error);  // past the global batch
}

}  // namespace
}  // namespace c2fmae::curriculum
