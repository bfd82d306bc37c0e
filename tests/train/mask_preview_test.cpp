#include "c2fmae/train/mask_preview.h"

#include "c2fmae/core/mask.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/masking/patch_majority.h"
#include "c2fmae/train/pretrain_engine.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

config::PretrainConfig tiny() {
  auto cfg = config::load_config<config::PretrainConfig>({testing::tiny_pretrain_yaml()}, {});
  check_pretrain_config(cfg);
  return cfg;
}

std::string usage_error_of(const config::PretrainConfig& cfg, const MaskPreviewOptions& o) {
  try {
    make_mask_preview(cfg, o);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(MaskPreview, EveryGeneratorMasksTheFirstSamplesWithTheVisibleBudget) {
  const auto cfg = tiny();
  const int64_t grid = cfg.model.grid_size(), l = grid * grid;
  for (const auto& name : masking::generator_names()) {
    const auto p = make_mask_preview(cfg, {name, 0.3, 5});
    ASSERT_EQ(p.batch.rgb.sizes(),
              (std::vector<int64_t>{5, 3, cfg.model.img_size, cfg.model.img_size}));
    ASSERT_EQ(p.batch.mask.sizes(), (std::vector<int64_t>{5, 3, l})) << name;
    EXPECT_NO_THROW(check_mask(p.batch.mask, 3, l, cfg.masking.num_visible)) << name;
    EXPECT_TRUE(p.semantic_patches.equal(masking::patch_regions(p.batch.semantic, grid)));
    EXPECT_TRUE(p.instance_patches.equal(masking::patch_regions(p.batch.instance, grid)));
    EXPECT_EQ(p.instance_patches.sizes(), (std::vector<int64_t>{5, l}));
    // Deterministic, and sample i is the dataset's sample i whatever the count.
    const auto again = make_mask_preview(cfg, {name, 0.3, 8});
    EXPECT_TRUE(again.batch.rgb.narrow(0, 0, 5).equal(p.batch.rgb)) << name;
    EXPECT_TRUE(make_mask_preview(cfg, {name, 0.3, 5}).batch.mask.equal(p.batch.mask)) << name;
  }
}

TEST(MaskPreview, BadOptionsAreUsageErrorsWithAHint) {
  const auto cfg = tiny();
  auto e = usage_error_of(cfg, {"instnace", 0, 4});
  EXPECT_NE(e.find("unknown mask generator 'instnace'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'instance'?"), std::string::npos) << e;
  EXPECT_NE(e.find("instance, random, semantic"), std::string::npos) << e;
  e = usage_error_of(cfg, {"random", 1.5, 4});
  EXPECT_NE(e.find("progress 1.5 is outside [0, 1]\nhint: "), std::string::npos) << e;
  EXPECT_NE(usage_error_of(cfg, {"random", -0.1, 4}).find("outside"), std::string::npos);
  EXPECT_NE(usage_error_of(cfg, {"random", std::nan(""), 4}).find("outside"), std::string::npos);
  e = usage_error_of(cfg, {"random", 0, 0});
  EXPECT_NE(e.find("count 0 is below 1\nhint: "), std::string::npos) << e;
  e = usage_error_of(cfg, {"random", 0, 321});
  EXPECT_NE(e.find("count 321 is more than the dataset's 320 samples\nhint: "), std::string::npos)
      << e;
  EXPECT_EQ(usage_error_of(cfg, {"random", 1.0, 320}), "");
}

}  // namespace
}  // namespace c2fmae::train
