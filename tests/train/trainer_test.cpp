#include "c2fmae/train/trainer.h"

#include <filesystem>
#include <fstream>

#include "c2fmae/train/checkpoint.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {
namespace fs = std::filesystem;

config::Config tiny(const std::string& dir, std::vector<std::string> sets = {}) {
  sets.push_back("train.output_dir=" + dir + "/run");
  return config::load_config({dir + "/tiny.yaml"}, sets);
}

TEST(Trainer, NonFiniteLossesAreSkippedCountedThenStopTheRunWithACheckpoint) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_nonfinite");
  // An absurd learning rate drives the weights to inf / NaN within a few steps.
  Trainer trainer(tiny(dir, {"optim.lr=1.0e12", "optim.warmup_epochs=0", "train.max_nonfinite=3"}), {});
  try {
    trainer.run();
    ADD_FAILURE() << "the run did not stop";
  } catch (const NonFiniteLossError& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("hint:"), std::string::npos);
  }
  CheckpointManager mgr(dir + "/run", 2);
  auto ckpt = mgr.newest_valid();
  ASSERT_TRUE(ckpt.has_value());
  auto state = load_checkpoint(*ckpt, nullptr, nullptr, torch::kCPU);
  EXPECT_GE(state.nonfinite_total, 3);
  EXPECT_NE(testing::read_text(dir + "/run/train.log").find("step skipped"), std::string::npos);
}

TEST(Trainer, ResumesFromAnExplicitCheckpointAndRejectsAnotherModel) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_resume_path");
  auto result = Trainer(tiny(dir, {"train.max_steps=5"}), {}).run();
  EXPECT_EQ(result.status, TrainResult::Status::kStoppedAtMaxSteps);
  EXPECT_EQ(result.step, 5);
  auto resumed = Trainer(tiny(dir, {"train.max_steps=7"}), {result.checkpoint}).run();
  EXPECT_EQ(resumed.step, 7);
  const auto before = testing::read_text(dir + "/run/config.yaml");
  try {
    Trainer(tiny(dir, {"model.depth=3"}), {result.checkpoint}).run();
    ADD_FAILURE() << "resumed a checkpoint into another model";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::read_text(dir + "/run/config.yaml"), before);  // the refused resume left the run's record alone
}

TEST(Trainer, GradientAccumulationFoldsMicroBatchesIntoOneStep) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_accum");
  // 320 samples / batch 4 = 80 micro-batches per epoch = 40 optimizer steps of 8 samples.
  auto result = Trainer(tiny(dir, {"data.batch_size=4", "optim.accum_steps=2", "train.max_steps=3"}), {}).run();
  EXPECT_EQ(result.total_steps, 80);
  EXPECT_EQ(result.step, 3);
  auto state = load_checkpoint(result.checkpoint, nullptr, nullptr, torch::kCPU);
  EXPECT_EQ(state.step, 3);
  EXPECT_EQ(state.data_position, 6);  // micro-batches consumed
  EXPECT_NE(testing::read_text(dir + "/run/train.log").find("8 (4 x 2 accumulation"), std::string::npos);
}

}  // namespace
}  // namespace c2fmae::train
