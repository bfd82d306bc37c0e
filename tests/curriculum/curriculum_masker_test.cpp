#include "c2fmae/curriculum/curriculum_masker.h"

#include "c2fmae/core/mask.h"
#include "c2fmae/core/seeding.h"
#include "test_helpers.h"

namespace c2fmae::curriculum {
namespace {

config::Config small_config() {
  return config::load_config({}, {"model.img_size=64", "masking.num_visible=20"});
}

TEST(CurriculumMasker, ExactCountsAndDeterministicInSeedAndStep) {
  CurriculumMasker masker(small_config());
  auto batch = testing::random_maps(12, 64, 4, 0);
  for (int64_t step : {0, 30, 55, 99}) {
    auto mask = masker.make_mask(batch, step, 100, 7);
    EXPECT_NO_THROW(check_mask(mask, 3, 16, 20));
    EXPECT_TRUE(mask.equal(masker.make_mask(batch, step, 100, 7)));
  }
  EXPECT_FALSE(masker.make_mask(batch, 1, 100, 7).equal(masker.make_mask(batch, 2, 100, 7)));
}

TEST(CurriculumMasker, DispatchesToTheScheduledGenerator) {
  auto cfg = small_config();
  CurriculumMasker masker(cfg);
  auto batch = testing::random_maps(6, 64, 4, 1);
  const auto spec = masker.spec();
  // Progress 0: all semantic; progress 1: all random (default keyframes).
  auto semantic = masking::make_mask_generator("semantic", spec, cfg.masking);
  auto random = masking::make_mask_generator("random", spec, cfg.masking);
  EXPECT_TRUE(
      masker.make_mask(batch, 0, 100, 3).equal(semantic->generate(batch, mix_seed({3, 0, 0}))));
  EXPECT_TRUE(
      masker.make_mask(batch, 100, 100, 3).equal(random->generate(batch, mix_seed({3, 100, 2}))));
}

}  // namespace
}  // namespace c2fmae::curriculum
