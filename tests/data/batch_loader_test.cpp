#include "c2fmae/data/batch_loader.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "c2fmae/core/log.h"
#include "c2fmae/core/patchify.h"
#include "c2fmae/data/instance_ids.h"
#include "c2fmae/data/synthetic_shapes.h"
#include "test_helpers.h"

namespace c2fmae::data {
namespace {

LoaderOptions options(int64_t rank, int64_t world) {
  LoaderOptions o;
  o.batch_size = 4;
  o.img_size = 32;
  o.num_workers = 3;
  o.seed = 9;
  o.slice = rank;
  o.num_slices = world;
  return o;
}

TEST(BatchLoader, EpochsArePermutationsSlicedByRank) {
  auto ds = std::make_shared<SyntheticShapes>(26, 0);
  BatchLoader r0(ds, options(0, 2)), r1(ds, options(1, 2));
  EXPECT_EQ(r0.micro_steps_per_epoch(), 3);  // 26 / (4 x 2), last partial batch dropped
  std::set<int64_t> seen;
  for (int64_t step = 0; step < 3; ++step) {
    for (auto* l : {&r0, &r1}) {
      for (auto i : l->indices(step)) EXPECT_TRUE(seen.insert(i).second) << i;
    }
  }
  EXPECT_EQ(seen.size(), 24u);
  EXPECT_NE(r0.indices(0), r0.indices(3));  // the next epoch is reshuffled
}

TEST(BatchLoader, BatchesAreAPureFunctionOfTheStep) {
  auto ds = std::make_shared<SyntheticShapes>(64, 0);
  BatchLoader a(ds, options(0, 1)), b(ds, options(0, 1));
  auto x = a.batch(5);
  auto y1 = b.batch(1);  // b prefetches 2, then is asked for 5 out of order
  auto y = b.batch(5);
  EXPECT_TRUE(x.rgb.equal(y.rgb));
  EXPECT_TRUE(x.instance.equal(y.instance));
  EXPECT_TRUE(a.batch(6).rgb.equal(b.batch(6).rgb));  // the prefetched path
  EXPECT_EQ(x.rgb.sizes(), (torch::IntArrayRef{4, 3, 32, 32}));
  EXPECT_EQ(x.rgb.scalar_type(), torch::kFloat);
  EXPECT_EQ(x.semantic.sizes(), (torch::IntArrayRef{4, 32, 32}));
  EXPECT_EQ(x.label.sizes(), (torch::IntArrayRef{4}));
  EXPECT_FALSE(y1.rgb.equal(x.rgb));
}

TEST(BatchLoader, CollateNormalisesWithImageNetStatistics) {  // NOLINT
  Sample s;
  s.rgb = torch::full({3, 2, 2}, 255, torch::kUInt8);
  s.semantic = torch::zeros({2, 2}, torch::kLong);
  s.instance = torch::zeros({2, 2}, torch::kLong);
  s.label = 3;
  auto b = collate({s, s});
  EXPECT_NEAR(b.rgb[1][0][0][0].item<double>(), (1.0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(b.rgb[0][2][1][1].item<double>(), (1.0 - 0.406) / 0.225, 1e-5);
  EXPECT_EQ(b.label[1].item<int64_t>(), 3);
}

/// Synthetic shapes, except that some indices fail: `broken` with an error that is not bad
/// data (a bug), `bad` as bad data (BadSample).
class FailingDataset : public SyntheticShapes {
 public:
  FailingDataset(int64_t size, std::set<int64_t> broken, std::set<int64_t> bad = {})
      : SyntheticShapes(size, 0), broken_(std::move(broken)), bad_(std::move(bad)) {}
  int64_t load(int64_t index, uint64_t seed, const SampleOptions& options,
               const SampleSlot& slot) const override {
    if (broken_.count(index)) throw std::runtime_error("cannot decode image");
    if (bad_.count(index)) throw BadSample("truncated JPEG");
    return SyntheticShapes::load(index, seed, options, slot);
  }

 private:
  std::set<int64_t> broken_, bad_;
};

TEST(BatchLoader, AFailingSampleIsAnErrorNamingItOnEveryThreadCount) {
  for (const int64_t workers : {0, 3}) {
    auto o = options(0, 1);
    o.num_workers = workers;
    auto probe = std::make_shared<SyntheticShapes>(16, 0);
    const int64_t broken = BatchLoader(probe, o).indices(1)[2];
    BatchLoader loader(std::make_shared<FailingDataset>(16, std::set<int64_t>{broken}), o);
    EXPECT_NO_THROW(loader.batch(0));  // prefetches step 1 in the background
    try {
      loader.batch(1);
      ADD_FAILURE() << "no error with " << workers << " workers";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("sample " + std::to_string(broken)), std::string::npos) << what;
      EXPECT_NE(what.find("of micro-batch 1"), std::string::npos) << what;
      EXPECT_NE(what.find("cannot decode image"), std::string::npos) << what;
    }
    EXPECT_NO_THROW(loader.batch(2));  // the loader stays usable
  }
}

TEST(BatchLoader, BadSamplesAreReplacedCountedAndLoggedOnce) {
  const auto log_path = ::testing::TempDir() + "bad_samples_" + std::to_string(::getpid()) + ".log";
  std::remove(log_path.c_str());
  log::add_file_sink(log_path);
  auto o = options(0, 1);
  o.batch_size = 8;
  auto probe = std::make_shared<SyntheticShapes>(16, 0);
  const auto first = BatchLoader(probe, o).indices(0);
  const std::set<int64_t> bad = {first[1], first[5]};
  BatchLoader loader(std::make_shared<FailingDataset>(16, std::set<int64_t>{}, bad), o);
  BatchLoader clean(probe, o);
  int64_t skipped = 0;
  for (int64_t step = 0; step < 6; ++step) {  // three epochs: every sample read 3 times
    auto b = loader.batch(step);
    skipped += b.data_skipped;
    EXPECT_EQ(b.size(), 8);
    EXPECT_GE(b.data_skipped, 0);
    // Good samples are untouched; bad ones were replaced by some other good sample.
    auto c = clean.batch(step);
    const auto idx = loader.indices(step);
    for (int64_t i = 0; i < 8; ++i) {
      if (bad.count(idx[i])) {
        EXPECT_FALSE(b.rgb[i].equal(c.rgb[i])) << "step " << step << " slot " << i;
      } else {
        EXPECT_TRUE(b.rgb[i].equal(c.rgb[i])) << "step " << step << " slot " << i;
      }
    }
  }
  EXPECT_GE(skipped, 6);  // each bad index at least once per epoch (more if drawn as a replacement)
  log::remove_file_sink(log_path);
  const auto text = c2fmae::testing::read_text(log_path);
  for (const auto index : bad) {
    const auto line =
        "skipping bad sample synthetic sample " + std::to_string(index) + ": truncated JPEG";
    const auto at = text.find(line);
    EXPECT_NE(at, std::string::npos) << text;
    EXPECT_EQ(text.find(line, at + 1), std::string::npos) << "logged twice: " << text;
  }
  // The replacements are a function of the position: a second loader replaces alike.
  BatchLoader again(std::make_shared<FailingDataset>(16, std::set<int64_t>{}, bad), o);
  EXPECT_TRUE(again.batch(0).rgb.equal(
      BatchLoader(std::make_shared<FailingDataset>(16, std::set<int64_t>{}, bad), o).batch(0).rgb));
  std::remove(log_path.c_str());
}

TEST(BatchLoader, AnAllBadDatasetFailsAfterBoundedReplacements) {
  auto o = options(0, 1);
  o.max_replacements = 5;
  std::set<int64_t> all;
  for (int64_t i = 0; i < 16; ++i) all.insert(i);
  BatchLoader loader(std::make_shared<FailingDataset>(16, std::set<int64_t>{}, all), o);
  try {
    loader.batch(0);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("5 replacements"), std::string::npos) << e.what();
  }
}

TEST(BatchLoader, EverySampleOncePerEpochOnOneTwoAndThreeSlices) {
  auto ds = std::make_shared<SyntheticShapes>(50, 0);
  for (const int64_t slices : {1, 2, 3}) {
    std::vector<std::unique_ptr<BatchLoader>> loaders;
    for (int64_t r = 0; r < slices; ++r) {
      auto o = options(r, slices);
      o.batch_size = 4;
      loaders.push_back(std::make_unique<BatchLoader>(ds, o));
    }
    const int64_t steps = loaders[0]->micro_steps_per_epoch();
    EXPECT_EQ(steps, 50 / (4 * slices));
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      std::set<int64_t> seen, positions;
      for (int64_t step = epoch * steps; step < (epoch + 1) * steps; ++step) {
        for (auto& l : loaders) {
          for (auto i : l->indices(step)) EXPECT_TRUE(seen.insert(i).second) << i;
          for (auto p : l->positions(step)) EXPECT_TRUE(positions.insert(p).second) << p;
        }
      }
      // drop_last: all but the last partial global batch, each once.
      EXPECT_EQ(static_cast<int64_t>(seen.size()), steps * 4 * slices) << slices << " slices";
      EXPECT_EQ(*positions.begin(), epoch * steps * 4 * slices);
      EXPECT_EQ(*positions.rbegin(), (epoch + 1) * steps * 4 * slices - 1);
    }
  }
}

TEST(BatchLoader, SlicesDrawWhatOneLoaderOfTheGlobalBatchDraws) {
  // Two slices of batch 4 read, augment and position exactly what one loader of batch 8
  // does, slot for slot, so the run is the same on any number of processes.
  auto ds = std::make_shared<SyntheticShapes>(40, 0);
  auto whole = options(0, 1);
  whole.batch_size = 8;
  BatchLoader one(ds, whole);
  std::vector<std::unique_ptr<BatchLoader>> two;
  for (int64_t r = 0; r < 2; ++r) {
    auto o = options(r, 2);
    o.batch_size = 4;
    two.push_back(std::make_unique<BatchLoader>(ds, o));
  }
  for (const int64_t step : {0, 3, 6}) {  // across an epoch boundary (5 steps per epoch)
    auto g = one.batch(step);
    for (int64_t r = 0; r < 2; ++r) {
      auto b = two[r]->batch(step);
      using torch::indexing::Slice;
      EXPECT_TRUE(b.rgb.equal(g.rgb.index({Slice(4 * r, 4 * r + 4)}))) << step << " " << r;
      EXPECT_TRUE(b.position.equal(g.position.index({Slice(4 * r, 4 * r + 4)})));
      EXPECT_TRUE(b.instance.equal(g.instance.index({Slice(4 * r, 4 * r + 4)})));
    }
  }
}

TEST(BatchLoader, AMidEpochRestartContinuesInTheSameOrder) {
  auto ds = std::make_shared<SyntheticShapes>(64, 0);
  auto o = options(0, 1);
  BatchLoader run(ds, o);
  std::vector<Batch> uninterrupted;
  for (int64_t step = 0; step < 10; ++step) uninterrupted.push_back(run.batch(step));
  BatchLoader resumed(ds, o);  // a new process resuming at step 7 (epoch 0 has 16 steps)
  for (int64_t step = 7; step < 10; ++step) {
    auto b = resumed.batch(step);
    EXPECT_TRUE(b.rgb.equal(uninterrupted[step].rgb)) << step;
    EXPECT_TRUE(b.label.equal(uninterrupted[step].label)) << step;
    EXPECT_TRUE(b.position.equal(uninterrupted[step].position)) << step;
  }
}

TEST(BatchLoader, TrainingLabelsAtLabelResolutionAndTheTransformOnTheLoaderThread) {
  auto ds = std::make_shared<SyntheticShapes>(64, 0);
  auto plain = options(0, 1);
  auto o = plain;
  o.max_instances = 3;
  const auto caller = std::this_thread::get_id();
  std::mutex seen_mutex;
  std::vector<int64_t> steps;
  std::set<std::thread::id> threads;
  o.transform = [&](Batch& b, int64_t micro_step) {
    b.mask = torch::full({b.size(), 1, 4}, micro_step, torch::kLong);
    std::lock_guard<std::mutex> lock(seen_mutex);
    steps.push_back(micro_step);
    threads.insert(std::this_thread::get_id());
  };
  BatchLoader loader(ds, o), reference(ds, plain);
  auto a = loader.batch(0);
  auto b = loader.batch(1);  // prefetched on the loader's thread
  auto full = reference.batch(1);
  EXPECT_EQ(b.semantic.sizes(), (torch::IntArrayRef{4, 8, 8}));
  EXPECT_TRUE(b.semantic.equal(downsample_labels(full.semantic, 4)));
  EXPECT_EQ(b.instance.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(b.instance.equal(canonical_instance_ids(downsample_labels(full.instance, 4), 3)));
  EXPECT_TRUE(b.rgb.equal(full.rgb));
  EXPECT_EQ(b.mask[0][0][0].item<int64_t>(), 1);
  EXPECT_EQ(a.mask[0][0][0].item<int64_t>(), 0);
  {
    std::lock_guard<std::mutex> lock(seen_mutex);
    EXPECT_GE(steps.size(), 2u);
    EXPECT_TRUE(threads.count(caller) == 0 || threads.size() > 1);  // step 1 ran elsewhere
  }
}

TEST(BatchLoader, RejectsADatasetSmallerThanOneBatch) {
  auto ds = std::make_shared<SyntheticShapes>(3, 0);
  EXPECT_THROW(BatchLoader(ds, options(0, 1)), c10::Error);
}

}  // namespace
}  // namespace c2fmae::data
