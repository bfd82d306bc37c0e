// The shipped recipes (configs/): every one loads and passes every rule; the ablation
// recipes differ only in the keys under test; each synthetic twin trains with a falling loss.
#include <algorithm>
#include <filesystem>
#include <set>

#include "c2fmae/config/pretrain_config.h"
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
    auto cfg = config::load_config<config::PretrainConfig>({entry.path().string()}, {});
    EXPECT_NO_THROW(check_pretrain_config(cfg));
    ++checked;
  }
  EXPECT_GE(checked, 16);
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
          EXPECT_TRUE(allowed.count(key)) << size << ": " << a << " and " << b << " differ in "
                                          << key;
        }
      }
    }
    // Each claim's recipe has its decoder and its masking.
    for (const auto& name : kClaims) {
      auto cfg = config::load_config<config::PretrainConfig>({dir + name + ".yaml"}, {});
      EXPECT_EQ(cfg.model.decoder_mode, name.substr(0, name.find('_'))) << name;
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
  EXPECT_EQ(cfg.model.decoder_mode, "parallel");
  EXPECT_FALSE(cfg.model.decoder_cross_residual);
  EXPECT_FALSE(cfg.model.decoder_final_norm);
  EXPECT_TRUE(cfg.model.decoder_fp32_semantic);
  EXPECT_EQ(cfg.loss.reduction, "samples");
  EXPECT_DOUBLE_EQ(cfg.optim.blr, 1e-4);
  EXPECT_EQ(cfg.masking.num_visible, 98);
}

TEST(Recipes, EverySyntheticTwinTrainsWithAFallingLoss) {
  // One intra-op thread: the test stays quick when CTest runs another beside it.
  const auto threads = torch::get_num_threads();
  torch::set_num_threads(1);
  for (const auto& name :
       {"cascade_curriculum", "parallel_random", "cascade_random", "parallel_curriculum", "mae"}) {
    SCOPED_TRACE(name);
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
  }
  torch::set_num_threads(threads);
}

}  // namespace
}  // namespace c2fmae::train
