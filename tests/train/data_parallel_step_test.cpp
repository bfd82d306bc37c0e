// The shared optimizer step (data_parallel_step.h) under a toy engine that is neither
// pre-training nor fine-tuning: it gets gradient accumulation, the skip policy, the
// bad-sample budget and data parallelism from DataParallelStep alone.
#include "c2fmae/train/data_parallel_step.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "c2fmae/optim/param_groups.h"
#include "c2fmae/train/engine.h"
#include "distributed/ranks_fixture.h"

namespace c2fmae::train {
namespace {

/// A linear regression engine: samples are rows of a fixed table, process r of W reads
/// rows [(micro_step x W + r) x b, ... + b) of it.
class ToyEngine : public Engine {
 public:
  struct Options {
    int64_t batch = 4;  ///< per process and micro-batch
    int64_t accum = 1;
    double lr = 0.05;
    LossScope scope = LossScope::kProcessMean;
    int64_t poisoned_micro_step = -1;  ///< gives this micro-step's batch a NaN
    int64_t bad_per_batch = 0;         ///< the loader "replaced" this many samples per batch
    double max_bad_fraction = 0.01;
  };

  ToyEngine(Options o, distributed::Communicator* group = nullptr) : o_(o), group_(group) {
    torch::manual_seed(7);
    model_ = torch::nn::Linear(torch::nn::LinearOptions(3, 1));
    const int64_t world = group ? group->world_size() : 1;
    torch::manual_seed(100);
    inputs_ = torch::randn({1024, 3});
    targets_ = inputs_.matmul(torch::tensor({1.5, -2.0, 0.5}).view({3, 1})) + 0.25;
    if (group) {  // the replicas start apart: the step's broadcast makes them rank 0's
      torch::NoGradGuard no_grad;
      model_->weight.add_(0.1 * static_cast<double>(group->rank()));
    }
    optimizer_ = std::make_unique<optim::AdamW>(
        std::vector<optim::ParamGroup>{{{"weight", "bias"}, model_->parameters(), 0.0, 1.0}},
        optim::AdamWOptions{});
    DataParallelStep::Options s;
    s.accum_steps = o.accum;
    s.bucket_bytes = 1 << 20;
    s.max_bad_fraction = o.max_bad_fraction;
    s.dataset_size = inputs_.size(0);
    s.loss_scope = o.scope;
    std::vector<torch::Tensor> state = model_->parameters();
    steps_ = std::make_unique<DataParallelStep>(group, torch::kCPU, model_->parameters(),
                                                *optimizer_, s, state);
    rank_ = steps_->rank();
    world_ = world;
  }

  int64_t total_steps() const override { return 1000; }
  int64_t steps_per_epoch() const override { return 1000; }
  int64_t samples_per_step() const override { return o_.batch * o_.accum * world_; }
  torch::Device device() const override { return torch::kCPU; }
  torch::nn::Module& module() override { return *model_; }
  optim::AdamW& optimizer() override { return *optimizer_; }
  std::vector<std::pair<std::string, std::string>> describe() const override { return {}; }
  std::string nonfinite_hint() const override { return "toy"; }
  void check_replicas() override { steps_->check_replicas(model_->parameters()); }

  StepOutcome run_step(int64_t step) override {
    DataParallelStep::Hooks hooks;
    hooks.next_batch = [this](int64_t micro_step) {
      Batch b;
      const int64_t first = ((micro_step * world_ + rank_) * o_.batch) % inputs_.size(0);
      b.rgb = inputs_.narrow(0, first, o_.batch).clone();
      b.target = targets_.narrow(0, first, o_.batch).clone();
      if (micro_step == o_.poisoned_micro_step) b.rgb[0][0] = std::nan("");
      b.data_skipped = o_.bad_per_batch;
      return b;
    };
    hooks.forward_loss = [this](const Batch& b, bool) {
      auto loss = (model_->forward(b.rgb) - b.target).pow(2).mean();
      // A share of the global mean: the processes' values sum to it.
      if (o_.scope == LossScope::kGlobalShare) loss = loss / static_cast<double>(world_);
      return MicroBatchLoss{loss, torch::stack({loss.detach(), loss.detach() * 2})};
    };
    hooks.after_update = [this] { ++updates_; };
    const auto r = steps_->run(step, o_.lr, hooks);
    last_ = r;
    StepOutcome out;
    out.skipped = r.skipped;
    out.skip_reason = r.skip_reason;
    out.loss = r.loss;
    return out;
  }

  torch::nn::Linear model_{nullptr};
  DataParallelStep::Result last_;
  int64_t updates_ = 0;
  DataParallelStep& steps() { return *steps_; }

 private:
  Options o_;
  distributed::Communicator* group_;
  int64_t rank_ = 0, world_ = 1;
  torch::Tensor inputs_, targets_;
  std::unique_ptr<optim::AdamW> optimizer_;
  std::unique_ptr<DataParallelStep> steps_;
};

torch::Tensor weights_after(ToyEngine& engine, int64_t steps) {
  for (int64_t s = 0; s < steps; ++s) EXPECT_FALSE(engine.run_step(s).skipped);
  return torch::cat({engine.model_->weight.flatten(), engine.model_->bias.flatten()}).detach();
}

TEST(DataParallelStep, ToyEngineLearnsAndReportsEveryFigureAsTheMicroBatchMean) {
  ToyEngine engine({});
  const double first = engine.run_step(0).loss;
  for (int64_t s = 1; s < 200; ++s) engine.run_step(s);
  EXPECT_LT(engine.run_step(200).loss, 0.05 * first);
  EXPECT_EQ(engine.updates_, 201);
  // Figure 1 is twice figure 0, the loss.
  ASSERT_EQ(engine.last_.figures.size(), 2u);
  EXPECT_DOUBLE_EQ(engine.last_.figures[0], engine.last_.loss);
  EXPECT_NEAR(engine.last_.figures[1], 2 * engine.last_.loss, 1e-12);
  EXPECT_TRUE(std::isfinite(engine.last_.grad_norm));
}

TEST(DataParallelStep, AccumulatingTwoMicroBatchesIsOneBatchOfTwiceTheSize) {
  ToyEngine::Options two;
  two.batch = 4;
  two.accum = 2;
  ToyEngine accumulated(two);
  ToyEngine::Options one;
  one.batch = 8;
  ToyEngine whole(one);
  EXPECT_TRUE(
      torch::allclose(weights_after(accumulated, 20), weights_after(whole, 20), 1e-5, 1e-6));
}

TEST(DataParallelStep, NonFiniteLossSkipsTheUpdateAndSaysWhy) {
  ToyEngine::Options o;
  o.accum = 2;
  o.poisoned_micro_step = 3;  // step 1's second micro-batch
  ToyEngine engine(o);
  engine.run_step(0);
  const auto before = engine.model_->weight.detach().clone();
  const auto out = engine.run_step(1);
  EXPECT_TRUE(out.skipped);
  EXPECT_NE(out.skip_reason.find("non-finite loss"), std::string::npos) << out.skip_reason;
  EXPECT_TRUE(std::isnan(engine.last_.grad_norm));
  EXPECT_TRUE(torch::equal(before, engine.model_->weight));
  EXPECT_EQ(engine.updates_, 1);
  EXPECT_FALSE(engine.run_step(2).skipped);  // gradients of the skipped step are gone
}

TEST(DataParallelStep, BadSamplesCountAndStopTheRunPastTheBudget) {
  ToyEngine::Options o;
  o.bad_per_batch = 1;  // 1 of 5 read
  o.max_bad_fraction = 0.5;
  ToyEngine tolerant(o);
  for (int64_t s = 0; s < 3; ++s) tolerant.run_step(s);
  EXPECT_EQ(tolerant.steps().bad_samples().skipped, 3);
  EXPECT_EQ(tolerant.steps().bad_samples().read, 15);
  // Judged over at least 1000 samples: 1 bad is 0.1 %, 2 are over it.
  o.max_bad_fraction = 0.001;
  ToyEngine strict(o);
  EXPECT_FALSE(strict.run_step(0).skipped);
  try {
    strict.run_step(1);
    ADD_FAILURE() << "a bad fraction over the budget was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("data.max_bad_fraction"), std::string::npos) << e.what();
  }
}

#ifdef C2FMAE_WITH_GLOO
/// Three processes of batch b train what one process of batch 3b does, within float32
/// round-off, for either scope of the loss; the replicas stay bitwise identical.
void expect_three_processes_match_one(LossScope scope) {
  const int64_t steps = 15;
  ToyEngine::Options one;
  one.batch = 12;
  one.scope = scope;
  ToyEngine single(one);
  const auto expected = weights_after(single, steps);
  const auto port = testing::free_port();
  const bool ok = testing::on_ranks(3, [&](int64_t rank) {
    distributed::Communicator group(testing::env_of(rank, 3, port), config::DistBackend::kGloo,
                                    torch::kCPU, std::chrono::seconds(30));
    ToyEngine::Options o;
    o.batch = 4;
    o.scope = scope;
    ToyEngine engine(o, &group);
    const auto got = weights_after(engine, steps);
    engine.check_replicas();  // throws if they differ
    // Every process reports the global batch's loss.
    const bool loss_ok = std::abs(engine.last_.loss - single.last_.loss) <= 1e-5;
    return loss_ok && torch::allclose(got, expected, 1e-5, 1e-6);
  });
  EXPECT_TRUE(ok);
}

TEST(DataParallelStep, ToyEngineInThreeProcessesTrainsAsOneOfTheGlobalBatch) {
  expect_three_processes_match_one(LossScope::kProcessMean);
  expect_three_processes_match_one(LossScope::kGlobalShare);
}
#endif  // C2FMAE_WITH_GLOO

}  // namespace
}  // namespace c2fmae::train
