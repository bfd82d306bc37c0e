// The shipped recipes (configs/): every one loads and passes every rule; the ablation
// recipes differ only in the keys under test; each synthetic twin trains with a falling loss.
#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "c2fmae/config/finetune_config.h"
#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/train/finetune_engine.h"
#include "c2fmae/train/pretrain_engine.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

namespace fs = std::filesystem;

std::string configs_dir() { return std::string(C2FMAE_SOURCE_DIR) + "/configs"; }

const std::vector<std::string> kClaims = {"cascade_curriculum", "parallel_random", "cascade_random",
                                          "parallel_curriculum"};

TEST(Recipes, EveryShippedRecipeLoadsAndPassesEveryRule) {
  int64_t checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(configs_dir())) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    // configs/finetune/ (and debug/tiny_finetune.yaml) are c2fmae_finetune's recipes, the rest
    // c2fmae_pretrain's.
    if (entry.path().parent_path().filename() == "finetune" ||
        entry.path().stem() == "tiny_finetune") {
      auto cfg = config::load_config<config::FinetuneConfig>({entry.path().string()}, {});
      EXPECT_NO_THROW(check_finetune_config(cfg));
    } else {
      auto cfg = config::load_config<config::PretrainConfig>({entry.path().string()}, {});
      EXPECT_NO_THROW(check_pretrain_config(cfg));
    }
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

TEST(Recipes, FinetuneRecipesFollowMae) {
  // MAE's FINETUNE.md (ViT-B) and LINPROBE.md, as DESIGN.md §1 states them.
  auto ft = config::load_config<config::FinetuneConfig>(
      {configs_dir() + "/finetune/vit_base_imagenet_100ep.yaml"}, {});
  EXPECT_EQ(ft.train.epochs, 100);
  EXPECT_DOUBLE_EQ(ft.optim.blr, 5e-4);
  EXPECT_DOUBLE_EQ(ft.finetune.layer_decay, 0.65);
  EXPECT_DOUBLE_EQ(ft.model.drop_path, 0.1);
  EXPECT_DOUBLE_EQ(ft.finetune.mixup, 0.8);
  EXPECT_DOUBLE_EQ(ft.finetune.cutmix, 1.0);
  EXPECT_DOUBLE_EQ(ft.finetune.label_smoothing, 0.1);
  EXPECT_DOUBLE_EQ(ft.finetune.random_erasing, 0.25);
  EXPECT_EQ(ft.finetune.rand_augment, "rand-m9-mstd0.5-inc1");
  EXPECT_EQ(ft.model.global_pool.name(), "avg");
  EXPECT_EQ(ft.data.batch_size * 8, 1024);
  auto lp = config::load_config<config::FinetuneConfig>(
      {configs_dir() + "/finetune/linprobe_vit_base_90ep.yaml"}, {});
  EXPECT_EQ(lp.finetune.mode.name(), "linprobe");
  EXPECT_EQ(lp.train.epochs, 90);
  EXPECT_EQ(lp.model.global_pool.name(), "token");
  EXPECT_DOUBLE_EQ(lp.optim.weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(lp.finetune.mixup + lp.finetune.cutmix + lp.finetune.label_smoothing, 0.0);
}

TEST(Recipes, AblationRecipesDifferOnlyInTheKeysUnderTest) {
  const std::set<std::string> allowed = {"model.decoder_mode", "curriculum.keyframes",
                                         "train.output_dir"};
  for (const char* size : {"vit_base", "synthetic"}) {
    const auto dir = configs_dir() + "/ablation/" + size + "/";
    for (const auto& a : kClaims) {
      auto cfg = config::load_config<config::PretrainConfig>({dir + a + ".yaml"}, {});
      for (const auto& b : kClaims) {
        const auto other = testing::read_text(dir + b + ".yaml");
        for (const auto& key : cfg.differing_keys(other, b)) {
          EXPECT_TRUE(allowed.count(key))
              << size << ": " << a << " and " << b << " differ in " << key;
        }
      }
    }
    // Each claim's recipe has its decoder and its masking.
    for (const auto& name : kClaims) {
      auto cfg = config::load_config<config::PretrainConfig>({dir + name + ".yaml"}, {});
      EXPECT_EQ(cfg.model.decoder_mode.name(), name.substr(0, name.find('_'))) << name;
      const bool curriculum = name.find("curriculum") != std::string::npos;
      EXPECT_EQ(cfg.curriculum.keyframes.size(), curriculum ? 3u : 1u) << name;
    }
    auto mae = config::load_config<config::PretrainConfig>({dir + "mae.yaml"}, {});
    EXPECT_EQ(mae.model.modalities, std::vector<Modality>{Modality::kRgb});
    EXPECT_EQ(mae.model.decoder_cross_blocks, 0);
  }
}

TEST(Recipes, TheMultimaeBaselineSetsMultimaesChoices) {
  auto cfg = config::load_config<config::PretrainConfig>(
      {configs_dir() + "/pretrain/multimae_vit_base_400ep.yaml"}, {});
  EXPECT_EQ(cfg.model.decoder_mode.name(), "parallel");
  EXPECT_FALSE(cfg.model.decoder_cross_residual);
  EXPECT_FALSE(cfg.model.decoder_final_norm);
  EXPECT_TRUE(cfg.model.decoder_fp32_semantic);
  EXPECT_EQ(cfg.loss.reduction.name(), "samples");
  EXPECT_DOUBLE_EQ(cfg.optim.blr, 1e-4);
  EXPECT_EQ(cfg.masking.num_visible, 98);
}

TEST(Recipes, TheMaskingStrategyRecipesAreMaeWithTheirGenerator) {
  // SemMAE and EHM as their papers run them (MAE mode, ViT-B), and their synthetic twins,
  // which differ from the MAE twin only in the masking.
  const auto mae = testing::read_text(configs_dir() + "/ablation/synthetic/mae.yaml");
  for (const auto& [vit_base, twin, generator] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"semmae_vit_base_800ep", "semmae", "semmae"},
           {"ehm_vit_base_800ep", "evolved", "evolved"},
           {"", "block", "block"}}) {
    SCOPED_TRACE(twin);
    std::vector<std::string> paths = {configs_dir() + "/ablation/synthetic/" + twin + ".yaml"};
    if (!vit_base.empty()) paths.push_back(configs_dir() + "/pretrain/" + vit_base + ".yaml");
    for (const auto& path : paths) {
      auto cfg = config::load_config<config::PretrainConfig>({path}, {});
      EXPECT_EQ(cfg.model.modalities, std::vector<Modality>{Modality::kRgb}) << path;
      EXPECT_EQ(cfg.model.decoder_cross_blocks, 0) << path;
      ASSERT_EQ(cfg.curriculum.keyframes.size(), 1u) << path;
      const auto& g = cfg.curriculum.keyframes[0].generators;
      ASSERT_EQ(g.size(), 1u) << path;
      EXPECT_EQ(g[0].first, generator) << path;
      EXPECT_DOUBLE_EQ(g[0].second, 1.0) << path;
    }
    auto cfg = config::load_config<config::PretrainConfig>({paths[0]}, {});
    for (const auto& key : cfg.differing_keys(mae, "mae")) {
      EXPECT_TRUE(key == "curriculum.keyframes" || key == "train.output_dir" ||
                  key.rfind("masking.", 0) == 0)
          << twin << " and mae differ in " << key;
    }
  }
  auto ehm = config::load_config<config::PretrainConfig>(
      {configs_dir() + "/pretrain/ehm_vit_base_800ep.yaml"}, {});
  EXPECT_DOUBLE_EQ(ehm.masking.affinity_ema_decay, 0.99996);  // EPM's ModelEma
  EXPECT_EQ(ehm.masking.evolved_parts_start, 40);
  EXPECT_EQ(ehm.masking.evolved_parts_end, 10);
  EXPECT_EQ(ehm.model.preset, "base");
  auto semmae = config::load_config<config::PretrainConfig>(
      {configs_dir() + "/pretrain/semmae_vit_base_800ep.yaml"}, {});
  EXPECT_EQ(semmae.masking.semmae_schedule.name(), "quadratic");
  EXPECT_EQ(semmae.masking.num_visible, 49);
}

// Each synthetic twin is its own case, so that CTest's shards of the suite share them out.
class RecipesTwin : public ::testing::TestWithParam<std::string> {};

TEST_P(RecipesTwin, TrainsWithAFallingLoss) {
  // One intra-op thread: the test stays quick when CTest runs another beside it.
  const auto threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const std::string name = GetParam();
  auto cfg = config::load_config<config::PretrainConfig>(
      {configs_dir() + "/ablation/synthetic/" + name + ".yaml"}, {"log.progress=false"});
  PretrainEngine engine(cfg);
  std::vector<double> losses;
  for (int64_t step = 0; step < 16; ++step) {
    const auto s = engine.train_step(step);
    ASSERT_FALSE(s.skipped) << step;
    losses.push_back(s.loss);
  }
  const double first = (losses[0] + losses[1] + losses[2]) / 3;
  const double last = (losses[13] + losses[14] + losses[15]) / 3;
  EXPECT_LT(last, 0.9 * first) << "first " << first << ", last " << last;
  std::cout << name << ": first " << first << ", last " << last << "\n";
  torch::set_num_threads(threads);
}

INSTANTIATE_TEST_SUITE_P(Recipes, RecipesTwin,
                         ::testing::Values("cascade_curriculum", "parallel_random",
                                           "cascade_random", "parallel_curriculum", "mae", "semmae",
                                           "evolved", "block"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace c2fmae::train
