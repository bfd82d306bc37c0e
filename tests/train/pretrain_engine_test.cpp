#include "c2fmae/train/pretrain_engine.h"

#include <c10/cuda/CUDAFunctions.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "c2fmae/core/file_writer.h"
#include "c2fmae/core/mask.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/optim/adamw.h"
#include "c2fmae/optim/gradient_clipping.h"
#include "c2fmae/train/checkpoint.h"
#include "pretrain_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {
namespace fs = std::filesystem;

config::PretrainConfig tiny(const std::string& dir, std::vector<std::string> sets = {}) {
  sets.push_back("train.output_dir=" + dir + "/run");
  return config::load_config<config::PretrainConfig>({dir + "/tiny.yaml"}, sets);
}

/// The pre-training engine, with a broken batch from step `from` on: its class token is NaN
/// during those steps (as a corrupt sample would make a loss NaN), and restored after.
class BrokenFromStep : public Engine {
 public:
  BrokenFromStep(const config::PretrainConfig& cfg, int64_t from) : inner_(cfg), from_(from) {}
  StepOutcome run_step(int64_t step) override {
    if (step < from_) return inner_.run_step(step);
    auto token = inner_.module().named_parameters()["backbone.cls_token"];
    const auto saved = token.detach().clone();
    {
      torch::NoGradGuard no_grad;
      token.fill_(std::numeric_limits<float>::quiet_NaN());
    }
    auto out = inner_.run_step(step);
    torch::NoGradGuard no_grad;
    token.copy_(saved);
    return out;
  }
  int64_t total_steps() const override { return inner_.total_steps(); }
  int64_t steps_per_epoch() const override { return inner_.steps_per_epoch(); }
  int64_t samples_per_step() const override { return inner_.samples_per_step(); }
  torch::Device device() const override { return inner_.device(); }
  torch::nn::Module& module() override { return inner_.module(); }
  optim::AdamW& optimizer() override { return inner_.optimizer(); }
  std::vector<std::pair<std::string, std::string>> describe() const override {
    return inner_.describe();
  }
  std::string nonfinite_hint() const override { return inner_.nonfinite_hint(); }

 private:
  PretrainEngine inner_;
  int64_t from_;
};

TEST(PretrainEngine, NonFiniteLossesAreSkippedCountedThenStopTheRunWithACheckpoint) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_nonfinite");
  auto cfg = tiny(dir, {"train.max_nonfinite=3"});
  BrokenFromStep engine(cfg, 4);
  RunShell shell(cfg, cfg.train, cfg.log, {});
  try {
    shell.run(engine);
    ADD_FAILURE() << "the run did not stop";
  } catch (const NonFiniteLossError& e) {
    EXPECT_NE(std::string(e.what()).find("3 steps in a row"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hint: optim.lr = 0.002 is set directly"),
              std::string::npos)
        << e.what();  // the tiny config sets optim.lr: the likeliest cause
  }
  // The checkpoint is the state after step 4, the last good one: the skipped steps changed
  // nothing (the engine restored the token; no update was applied).
  const auto state_after_4 = engine.module().named_parameters();
  models::C2fmae model(cfg.model);
  optim::AdamW opt(optim::weight_decay_groups(model->named_parameters(), 0.05), {});
  auto state =
      load_checkpoint(dir + "/run/checkpoint-00000004.pt", model.ptr().get(), &opt, torch::kCPU);
  EXPECT_EQ(state.nonfinite_total, 3);
  for (const auto& p : model->named_parameters()) {
    EXPECT_TRUE(torch::isfinite(p.value()).all().item<bool>()) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), state_after_4[p.key()])) << p.key();
  }
  EXPECT_NE(testing::read_text(dir + "/run/train.log").find("step skipped"), std::string::npos);
  // metrics.jsonl says why the run stopped: one line per skipped step.
  const auto metrics = testing::read_text(dir + "/run/metrics.jsonl");
  EXPECT_NE(metrics.find("{\"step\": 7, \"epoch\": 0.175, \"loss\": null, \"skipped\": "
                         "\"non-finite loss (nan)\", \"nonfinite_skipped\": 3}"),
            std::string::npos)
      << metrics;
  // Resumed from the last good state, the replayed steps (now finite) are not counted as
  // skipped a second time.
  EXPECT_EQ(state.nonfinite_replayed, 3);
  fs::copy(dir + "/run", dir + "/resumed", fs::copy_options::recursive);  // this run holds run/
  auto resume_cfg = tiny(dir, {"train.max_steps=6"});
  resume_cfg.train.output_dir = dir + "/resumed";
  pretrain(resume_cfg, {dir + "/resumed/checkpoint-00000004.pt"});
  const auto resumed = testing::read_text(dir + "/resumed/metrics.jsonl");
  const auto step6 = resumed.find("{\"step\": 6,");
  ASSERT_NE(step6, std::string::npos) << resumed;
  EXPECT_NE(resumed.find("\"nonfinite_skipped\": 0", step6), std::string::npos) << resumed;
}

TEST(PretrainEngine, ARunFileThatIsAFifoIsRefusedNotWaitedFor) {
  // open() of a FIFO nobody reads would block the run for ever, past a first stop signal.
  for (const char* file : {"train.log", "metrics.jsonl"}) {
    const auto dir = testing::tiny_pretrain_dir(std::string("c2fmae_trainer_fifo_") + file);
    ASSERT_EQ(pretrain(tiny(dir, {"train.max_steps=1"}), {}).step, 1);
    fs::remove(dir + "/run/" + file);
    ASSERT_EQ(::mkfifo((dir + "/run/" + file).c_str(), 0644), 0);
    try {
      RunOptions resume;
      resume.resume = "auto";
      pretrain(tiny(dir, {"train.max_steps=2"}), resume);
      ADD_FAILURE() << file << " as a FIFO was accepted";
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
  }
}

TEST(PretrainEngine, AFiniteLossWithInfiniteGradientsIsSkippedToo) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_infgrad");
  auto cfg = tiny(dir, {"train.max_nonfinite=2"});
  PretrainEngine engine(cfg);
  torch::manual_seed(cfg.train.seed);
  models::C2fmae initial(cfg.model);
  // The loss stays finite; one gradient overflows.
  auto head = engine.module().named_parameters()["backbone.blocks.0.mlp.fc1.weight"];
  head.register_hook([](torch::Tensor g) { return g + std::numeric_limits<float>::infinity(); });
  const auto s = engine.train_step(0);
  EXPECT_TRUE(s.skipped);
  EXPECT_TRUE(std::isfinite(s.loss));
  EXPECT_FALSE(std::isfinite(s.grad_norm));
  RunShell shell(cfg, cfg.train, cfg.log, {});
  EXPECT_THROW(shell.run(engine), NonFiniteLossError);
  EXPECT_NE(testing::read_text(dir + "/run/train.log").find("non-finite gradient norm"),
            std::string::npos);
  // No update happened: the checkpoint holds the initial weights, all finite.
  models::C2fmae loaded(cfg.model);
  optim::AdamW opt(optim::weight_decay_groups(loaded->named_parameters(), 0.05), {});
  auto state =
      load_checkpoint(dir + "/run/checkpoint-00000000.pt", loaded.ptr().get(), &opt, torch::kCPU);
  EXPECT_EQ(state.step, 0);
  EXPECT_EQ(state.nonfinite_total, 2);
  const auto before = initial->named_parameters();
  for (const auto& p : loaded->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), before[p.key()])) << p.key();
  }
}

TEST(PretrainEngine, ResumesFromAnExplicitCheckpointAndRejectsAnotherModel) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_resume_path");
  auto result = pretrain(tiny(dir, {"train.max_steps=5"}), {});
  EXPECT_EQ(result.status, RunResult::Status::kStoppedAtMaxSteps);
  EXPECT_EQ(result.step, 5);
  auto resumed = pretrain(tiny(dir, {"train.max_steps=7"}), {result.checkpoint});
  EXPECT_EQ(resumed.step, 7);
  const auto before = testing::read_text(dir + "/run/config.yaml");
  try {
    pretrain(tiny(dir, {"model.depth=3"}), {result.checkpoint});
    ADD_FAILURE() << "resumed a checkpoint into another model";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::read_text(dir + "/run/config.yaml"),
            before);  // the refused resume left the run's record alone
}

/// The "grad_norm" of the first metrics line of a run directory.
double first_grad_norm(const std::string& run_dir) {
  const auto text = testing::read_text(run_dir + "/metrics.jsonl");
  const auto at = text.find("\"grad_norm\": ");
  EXPECT_NE(at, std::string::npos) << text;
  return at == std::string::npos ? 0.0 : std::strtod(text.c_str() + at + 13, nullptr);
}

TEST(PretrainEngine, AFailedStartLeavesNoRunDirectoryBehind) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_failed_start");
  // 40 micro-batches per epoch cannot make one step of 41.
  EXPECT_THROW(pretrain(tiny(dir, {"optim.accum_steps=41"}), {}), config::ConfigError);
  EXPECT_FALSE(fs::exists(dir + "/run"));
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(pretrain(tiny(dir, {"train.device=cuda"}), {}), UsageError);
    EXPECT_FALSE(fs::exists(dir + "/run"));
  }
  // The corrected command starts without --overwrite.
  EXPECT_EQ(pretrain(tiny(dir, {"train.max_steps=1"}), {}).step, 1);
}

TEST(PretrainEngine, NumbersDerivedFromTheDatasetAreConfigErrorsNamingTheKey) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_engine_derived_numbers");
  auto key_of = [&](std::vector<std::string> sets) -> std::string {
    try {
      PretrainEngine engine(tiny(dir, sets));
    } catch (const config::ConfigError& e) {
      return e.key();
    }
    return "";
  };
  EXPECT_EQ(key_of({"data.batch_size=400"}), "data.batch_size");  // 320 samples
  EXPECT_EQ(key_of({"optim.accum_steps=41"}), "optim.accum_steps");
  // blr 1e-4 x 8 / 256 = 3.1e-6 is below the floor.
  EXPECT_EQ(key_of({"optim.lr=0", "optim.blr=1.0e-4", "optim.min_lr=1.0e-3"}), "optim.min_lr");
  EXPECT_EQ(key_of({"optim.lr=0", "optim.blr=1.0e-4", "optim.min_lr=1.0e-6"}), "");
  EXPECT_FALSE(fs::exists(dir + "/run"));
}

TEST(PretrainEngine, AccumulatedGradientsAverageTheMicroBatches) {
  // One step over 16 samples, whole or as 2 micro-batches of 8: the same data and the same
  // objective, so the gradient norms agree; summing the micro-batch gradients instead of
  // averaging them would double it. (Masks differ between the two, hence the tolerance.)
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_accum_norm");
  auto whole_cfg = tiny(dir, {"data.batch_size=16", "train.max_steps=1"});
  whole_cfg.train.output_dir = dir + "/whole";
  pretrain(whole_cfg, {});
  auto accum_cfg = tiny(dir, {"data.batch_size=8", "optim.accum_steps=2", "train.max_steps=1"});
  accum_cfg.train.output_dir = dir + "/accum";
  pretrain(accum_cfg, {});
  const double whole = first_grad_norm(dir + "/whole"), accum = first_grad_norm(dir + "/accum");
  ASSERT_GT(whole, 0.0);
  EXPECT_NEAR(accum / whole, 1.0, 0.25) << "whole " << whole << ", accumulated " << accum;
}

TEST(PretrainEngine, GradientAccumulationFoldsMicroBatchesIntoOneStep) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_trainer_accum");
  // 320 samples / batch 4 = 80 micro-batches per epoch = 40 optimizer steps of 8 samples.
  auto result =
      pretrain(tiny(dir, {"data.batch_size=4", "optim.accum_steps=2", "train.max_steps=3"}), {});
  EXPECT_EQ(result.total_steps, 80);
  EXPECT_EQ(result.step, 3);
  auto state = load_checkpoint(result.checkpoint, nullptr, nullptr, torch::kCPU);
  EXPECT_EQ(state.step, 3);
  EXPECT_NE(testing::read_text(dir + "/run/train.log").find("8 (4 x 2 accumulation"),
            std::string::npos);
}

/// A generator defined here, outside the library: the first num_visible tokens (in
/// flattened order) of every sample are visible.
class FirstTokensGenerator : public masking::MaskGenerator {
 public:
  explicit FirstTokensGenerator(masking::MaskSpec spec) : spec_(std::move(spec)) {}
  std::string name() const override { return "first_tokens"; }
  torch::Tensor generate(const masking::MaskInputs& inputs, uint64_t) const override {
    auto mask =
        torch::ones({inputs.size(), spec_.num_modalities() * spec_.num_patches()}, torch::kBool);
    mask.narrow(1, 0, spec_.num_visible).fill_(kVisible);
    return mask.view({inputs.size(), spec_.num_modalities(), spec_.num_patches()});
  }

 private:
  masking::MaskSpec spec_;
};

const masking::GeneratorRegistration kFirstTokens("first_tokens", [](const masking::MaskSpec& spec,
                                                                     const config::MaskingConfig&) {
  return std::make_unique<FirstTokensGenerator>(spec);
});

TEST(PretrainEngine, AGeneratorRegisteredByATestTrainsInACurriculum) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_engine_toy_generator");
  auto cfg = tiny(dir, {"curriculum.keyframes=[{at: 0, first_tokens: 1}, {at: 1, random: 1}]"});
  EXPECT_NO_THROW(check_pretrain_config(cfg));
  PretrainEngine engine(cfg);
  const auto s = engine.train_step(0);  // a test calls the step directly
  EXPECT_FALSE(s.skipped);
  EXPECT_TRUE(std::isfinite(s.loss));
  EXPECT_GT(s.grad_norm, 0.0);
  ASSERT_EQ(s.generator_weights.size(), 2u);
  EXPECT_EQ(s.generator_weights[0].first, "first_tokens");
  EXPECT_EQ(s.generator_weights[0].second, 1.0);  // progress 0: all first_tokens
  EXPECT_EQ(s.generator_weights[1].first, "random");
  // A whole run logs its weight as w_first_tokens.
  EXPECT_EQ(
      pretrain(tiny(dir, {"curriculum.keyframes=[{at: 0, first_tokens: 1}]", "train.max_steps=1"}),
               {})
          .step,
      1);
  EXPECT_NE(testing::read_text(dir + "/run/metrics.jsonl").find("\"w_first_tokens\": 1"),
            std::string::npos);
}

TEST(PretrainEngine, AnUnregisteredGeneratorIsAConfigErrorNamingIt) {
  const auto dir = testing::tiny_pretrain_dir("c2fmae_engine_unknown_generator");
  try {
    check_pretrain_config(tiny(dir, {"curriculum.keyframes=[{at: 0, frist_tokens: 1}]"}));
    ADD_FAILURE() << "accepted an unknown generator";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.key(), "curriculum.keyframes[0].frist_tokens");
    EXPECT_NE(std::string(e.what()).find("did you mean 'first_tokens'"), std::string::npos)
        << e.what();
  }
}

TEST(PretrainEngine, AMisspeltGeneratorIsNamedBeforeAnyOtherCurriculumRule) {
  auto cfg = config::load_config<config::PretrainConfig>(
      {}, {"curriculum.keyframes=[{at: 0, random: 1}, {at: 0.5, Semantic: 0}]"});
  try {
    check_pretrain_config(cfg);
    ADD_FAILURE() << "accepted an unknown generator";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.key(), "curriculum.keyframes[1].Semantic");
    EXPECT_NE(std::string(e.what()).find("did you mean 'semantic'"), std::string::npos) << e.what();
  }
}

TEST(PretrainEngine, DefaultLossWeightsKeepTheTermsWithin3xAtTheStart) {
  // The demo's shape (ViT-tiny encoder, 128-wide decoder) at 224 px, with the synthetic
  // shapes' 10 classes and with COCO's 133 (the ViT-B recipes).
  const auto dir = testing::tiny_pretrain_dir("c2fmae_engine_loss_balance");
  for (const char* classes : {"model.num_semantic_classes=10", "model.num_semantic_classes=133"}) {
    SCOPED_TRACE(classes);
    PretrainEngine engine(
        tiny(dir, {classes, "model.img_size=224", "model.decoder_dim=128", "masking.num_visible=98",
                   "data.batch_size=16", "data.synthetic_samples=64"}));
    const config::LossConfig defaults;
    const auto s = engine.train_step(0);
    std::vector<double> weighted;
    for (const auto& [m, value] : s.terms) {
      const double w = m == Modality::kSemantic   ? defaults.weight_semantic
                       : m == Modality::kInstance ? defaults.weight_instance
                                                  : defaults.weight_rgb;
      weighted.push_back(w * value);
    }
    ASSERT_EQ(weighted.size(), 3u);
    const auto [lo, hi] = std::minmax_element(weighted.begin(), weighted.end());
    EXPECT_LE(*hi / *lo, 3.0) << weighted[0] << " " << weighted[1] << " " << weighted[2];
  }
}

TEST(PretrainEngine, CudaStepMakesNoHostSyncBeforeItsOneMetricsRead) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto dir = testing::tiny_pretrain_dir("c2fmae_engine_sync_free");
  std::vector<std::string> sets = {"train.device=cuda", "train.precision=bf16",
                                   "optim.accum_steps=2", "optim.clip_grad=1.0"};
  // C2FMAE_SYNC_TEST_IMG_SIZE (scripts/gpu_check.sh: 224): the step at a full-size grid.
  if (const char* size = std::getenv("C2FMAE_SYNC_TEST_IMG_SIZE")) {
    sets.push_back(std::string("model.img_size=") + size);
  }
  PretrainEngine engine(tiny(dir, sets));
  engine.train_step(0);  // warm-up: allocator, cuBLAS handles, pinned buffers
  torch::cuda::synchronize();
  // Forward, loss and backward of every micro-batch, the gradient norm and the update: any
  // host sync in them throws under "error".
  torch::Tensor losses, norm;
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
  try {
    losses = engine.forward_backward(1);
    norm = optim::clip_gradient_norm(engine.module().parameters(), 1.0);
    engine.optimizer().step(1e-4);
    engine.optimizer().zero_grad();
  } catch (const std::exception& e) {
    c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
    FAIL() << "a host sync in the step: " << e.what();
  }
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
  EXPECT_EQ(losses.size(0), 2);
  EXPECT_TRUE(torch::isfinite(losses).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(norm).item<bool>());
  EXPECT_FALSE(engine.train_step(2).skipped);
}

}  // namespace
}  // namespace c2fmae::train
