#include "c2fmae/data/batch_loader.h"

#include <mutex>
#include <set>
#include <thread>

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
  o.shard = rank;
  o.num_shards = world;
  return o;
}

TEST(BatchLoader, EpochsArePermutationsShardedByRank) {
  auto ds = std::make_shared<SyntheticShapes>(26, 0);
  BatchLoader r0(ds, options(0, 2)), r1(ds, options(1, 2));
  EXPECT_EQ(r0.steps_per_epoch(), 3);  // 26 / (4 x 2), last partial batch dropped
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

TEST(BatchLoader, CollateNormalisesWithImageNetStatistics) {
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

/// Synthetic shapes, except that one index fails to load.
class FailingDataset : public SyntheticShapes {
 public:
  FailingDataset(int64_t size, int64_t bad) : SyntheticShapes(size, 0), bad_(bad) {}
  Sample get(int64_t index, const Augmentation& aug, int64_t size) const override {
    if (index == bad_) throw std::runtime_error("cannot decode image");
    return SyntheticShapes::get(index, aug, size);
  }

 private:
  int64_t bad_;
};

TEST(BatchLoader, AFailingSampleIsAnErrorNamingItOnEveryThreadCount) {
  for (const int64_t workers : {0, 3}) {
    auto o = options(0, 1);
    o.num_workers = workers;
    auto probe = std::make_shared<SyntheticShapes>(16, 0);
    const int64_t bad = BatchLoader(probe, o).indices(1)[2];
    BatchLoader loader(std::make_shared<FailingDataset>(16, bad), o);
    EXPECT_NO_THROW(loader.batch(0));  // prefetches step 1 in the background
    try {
      loader.batch(1);
      ADD_FAILURE() << "no error with " << workers << " workers";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("sample " + std::to_string(bad) + " of micro-batch 1"), std::string::npos) << what;
      EXPECT_NE(what.find("cannot decode image"), std::string::npos) << what;
    }
    EXPECT_NO_THROW(loader.batch(2));  // the loader stays usable
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
  o.transform = [&](Batch& b, int64_t step) {
    b.mask = torch::full({b.size(), 1, 4}, step, torch::kLong);
    std::lock_guard<std::mutex> lock(seen_mutex);
    steps.push_back(step);
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
