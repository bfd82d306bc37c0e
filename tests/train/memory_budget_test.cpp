#include "c2fmae/train/memory_budget.h"

#include "c2fmae/core/usage_error.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

config::PretrainConfig tiny_budget_config() {
  config::PretrainConfig cfg;
  cfg.model.preset = "tiny";
  cfg.model.img_size = 64;
  cfg.masking.num_visible = 16;
  cfg.data.batch_size = 8;
  return cfg;
}

TEST(MemoryBudget, ASmallRunFitsAndTheTableRowNamesEachPart) {
  const auto e = estimate_pretrain_memory(tiny_budget_config(), torch::kCPU, false, false, 1);
  EXPECT_NO_THROW(check_memory_budget(e, torch::kCPU, true));
  EXPECT_LT(e.host_bytes(), 1.0 * (1 << 30));
  EXPECT_EQ(e.device_bytes(), 0.0);  // a CPU run: all of it is host memory
  const auto text = e.describe();
  for (const char* part : {"activations", "weights, gradients and AdamW state", "loader buffers"})
    EXPECT_NE(text.find(part), std::string::npos) << text;
  // Processes of one host share its memory.
  const auto four = estimate_pretrain_memory(tiny_budget_config(), torch::kCPU, false, false, 4);
  EXPECT_DOUBLE_EQ(four.host_bytes(), 4 * e.host_bytes());
}

TEST(MemoryBudget, ARunLargerThanTheMachineIsRefusedNamingTheKeysThatDriveIt) {
  const double machine = host_memory_limit();
  ASSERT_GT(machine, 0);
  struct Case {
    std::function<void(config::PretrainConfig&)> set;
    std::string part, key;
  };
  for (const auto& c : std::vector<Case>{
           {[](auto& cfg) { cfg.data.batch_size = 65536; }, "(the activations)", "data.batch_size"},
           {[](auto& cfg) {
              cfg.model.img_size = 4096;
              cfg.masking.num_visible = 16384;
            },
            "(the activations)", "model.img_size"},
           {[](auto& cfg) {
              cfg.data.prefetch = 64;
              cfg.data.batch_size = 64;
              cfg.model.img_size = 1024;
              cfg.masking.num_visible = 8;
              cfg.model.modalities = {Modality::kRgb};
            },
            "(the loader buffers)", "data.prefetch"}}) {
    auto cfg = tiny_budget_config();
    c.set(cfg);
    const auto e = estimate_pretrain_memory(cfg, torch::kCPU, false, false, 1);
    ASSERT_GT(e.host_bytes(), machine) << e.describe();
    try {
      check_memory_budget(e, torch::kCPU, true);
      ADD_FAILURE() << "accepted: " << e.describe();
    } catch (const UsageError& error) {
      const std::string text = error.what();
      EXPECT_NE(text.find("the run needs about"), std::string::npos) << text;
      EXPECT_NE(text.find(c.key), std::string::npos) << text;
      EXPECT_NE(text.find(c.part), std::string::npos) << text;
      EXPECT_NE(text.find("train.memory_check=false"), std::string::npos) << text;
    }
    EXPECT_NO_THROW(check_memory_budget(e, torch::kCPU, false));  // warns only
  }
}

TEST(MemoryBudget, FineTuningCountsItsLoadersAndAFrozenEncoderKeepsNoGraph) {
  config::FinetuneConfig cfg;
  cfg.model.preset = "tiny";
  cfg.model.img_size = 64;
  cfg.data.batch_size = 8;
  const auto one = estimate_finetune_memory(cfg, 10, torch::kCPU, false, 1, 0, 1);
  const auto two = estimate_finetune_memory(cfg, 10, torch::kCPU, false, 2, 0, 1);
  EXPECT_GT(two.host_bytes(), one.host_bytes());
  cfg.finetune.mode = config::FinetuneMode::kLinprobe;
  const auto probe = estimate_finetune_memory(cfg, 10, torch::kCPU, false, 2, 0, 1);
  EXPECT_LT(probe.host_bytes(), two.host_bytes());
  // knn over 3 G images keeps their features: beyond this machine, named.
  cfg.finetune.mode = config::FinetuneMode::kKnn;
  const auto knn = estimate_finetune_memory(cfg, 10, torch::kCPU, false, 2, 3000000000, 1);
  try {
    check_memory_budget(knn, torch::kCPU, true);
    ADD_FAILURE() << knn.describe();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("(the encoder features)"), std::string::npos) << e.what();
  }
}

TEST(MemoryBudget, TheInstanceLossPairsGrowWithSlotsAndTheirWidth) {
  auto cfg = tiny_budget_config();
  const auto base = estimate_pretrain_memory(cfg, torch::kCPU, false, false, 1).host_bytes();
  cfg.model.instance_slots = 254;
  cfg.model.instance_head_dim = 256;
  cfg.data.batch_size = 64;
  // 64 x 255^2 x 256 values, three times over: about 12 GiB on top.
  const auto big = estimate_pretrain_memory(cfg, torch::kCPU, false, false, 1).host_bytes();
  EXPECT_GT(big - base, 10.0 * (1 << 30));
}

}  // namespace
}  // namespace c2fmae::train
