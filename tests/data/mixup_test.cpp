#include "c2fmae/data/mixup.h"

#include <cmath>
#include <tuple>

#include "test_helpers.h"

namespace c2fmae::data {
namespace {

using torch::indexing::Slice;

MixupOptions mixup_only() {
  MixupOptions o;
  o.cutmix_alpha = 0.0;
  o.num_classes = 10;
  return o;
}

MixupOptions cutmix_only() {
  MixupOptions o;
  o.mixup_alpha = 0.0;
  o.num_classes = 10;
  return o;
}

// Golden values from timm 1.0.31 (float32):
//   from timm.data.mixup import mixup_target
//   mixup_target(torch.tensor([0, 2, 1, 3]), 5, lam=0.7, smoothing=0.1).tolist()
TEST(MixupTarget, MatchesTimm) {
  const float on = 0.6499999761581421f, mid = 0.2900000214576721f, off = 0.019999999552965164f;
  auto expected = torch::tensor({on,  off, off, mid, off,  //
                                 off, mid, on,  off, off,  //
                                 off, on,  mid, off, off,  //
                                 mid, off, off, on,  off})
                      .view({4, 5});
  auto y = mixup_target(torch::tensor({0, 2, 1, 3}, torch::kLong), 5, 0.7, 0.1);
  EXPECT_EQ(y.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(y, expected)) << y;
}

// smoothing only (lam = 1): on = 1 - 0.1 + 0.1 / 5, off = 0.1 / 5; timm gives
//   mixup_target(torch.tensor([0, 2, 1, 3]), 5, lam=1.0, smoothing=0.1)
//   -> 0.9200000166893005 on, 0.019999999552965164 off.
TEST(MixupTarget, SmoothingValuesAreExact) {
  auto labels = torch::tensor({0, 2, 1, 3}, torch::kLong);
  auto y = mixup_target(labels, 5, 1.0, 0.1);
  auto hot = torch::nn::functional::one_hot(labels, 5).to(torch::kBool);
  EXPECT_TRUE(torch::equal(y.masked_select(hot), torch::full({4}, 0.9200000166893005f)));
  EXPECT_TRUE(torch::equal(y.masked_select(~hot), torch::full({16}, 0.019999999552965164f)));
  EXPECT_TRUE(torch::equal(mixup_target(labels, 5, 1.0, 0.0), hot.to(torch::kFloat)));
}

TEST(MixBatch, TargetsSumToOne) {
  testing::seed(1);
  MixupOptions off = mixup_only();
  off.mixup_alpha = 0.0;
  ASSERT_FALSE(off.active());
  for (const auto& o : {mixup_only(), cutmix_only(), off}) {
    auto rgb = torch::randn({4, 3, 8, 8});
    auto labels = torch::tensor({1, 7, 7, 3}, torch::kLong);
    auto y = mix_batch(rgb, labels, o, 5);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{4, 10}));
    testing::expect_close(y.sum(1), torch::ones({4}), 0.0, 1e-6);
  }
}

TEST(MixBatch, InactiveOnlySmooths) {
  testing::seed(2);
  MixupOptions o;
  o.mixup_alpha = o.cutmix_alpha = 0.0;
  o.num_classes = 6;
  auto rgb = torch::randn({2, 3, 4, 4});
  auto before = rgb.clone();
  auto labels = torch::tensor({4, 0}, torch::kLong);
  MixupDraw d;
  d.lam = 0.0;
  auto y = mix_batch(rgb, labels, o, 9, &d);
  EXPECT_TRUE(torch::equal(rgb, before));
  EXPECT_EQ(d.lam, 1.0);
  EXPECT_FALSE(d.cutmix);
  EXPECT_TRUE(torch::equal(y, mixup_target(labels, 6, 1.0, 0.1)));
}

TEST(MixBatch, ProbZeroLeavesTheBatchAlone) {
  testing::seed(3);
  MixupOptions o;
  o.prob = 0.0;
  o.num_classes = 6;
  auto rgb = torch::randn({4, 3, 4, 4});
  auto before = rgb.clone();
  MixupDraw d;
  auto y = mix_batch(rgb, torch::tensor({0, 1, 2, 3}, torch::kLong), o, 11, &d);
  EXPECT_TRUE(torch::equal(rgb, before));
  EXPECT_EQ(d.lam, 1.0);
  EXPECT_TRUE(
      torch::equal(y, mixup_target(torch::tensor({0, 1, 2, 3}, torch::kLong), 6, 1.0, 0.1)));
}

// timm's _mix_batch: x_flipped = x.flip(0).mul_(1 - lam); x.mul_(lam).add_(x_flipped).
TEST(MixBatch, MixupBlendsWithTheFlippedBatch) {
  testing::seed(4);
  for (uint64_t seed : {0u, 1u, 2u}) {
    auto rgb = torch::randn({6, 3, 5, 7});
    auto x = rgb.clone();
    auto labels = torch::tensor({0, 1, 2, 3, 4, 5}, torch::kLong);
    MixupDraw d;
    auto y = mix_batch(rgb, labels, mixup_only(), seed, &d);
    ASSERT_FALSE(d.cutmix);
    ASSERT_GT(d.lam, 0.0);
    ASSERT_LT(d.lam, 1.0);
    EXPECT_TRUE(torch::equal(rgb, x * d.lam + x.flip(0) * (1.0 - d.lam)));
    EXPECT_TRUE(torch::equal(y, mixup_target(labels, 10, d.lam, 0.1)));
  }
}

TEST(MixBatch, CutmixPastesExactlyTheBox) {
  testing::seed(5);
  const int64_t h = 12, w = 9;
  int clipped = 0;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    auto rgb = torch::randn({4, 2, h, w});
    auto x = rgb.clone();
    auto labels = torch::tensor({9, 8, 7, 6}, torch::kLong);
    MixupDraw d;
    auto y = mix_batch(rgb, labels, cutmix_only(), seed, &d);
    ASSERT_TRUE(d.cutmix);
    ASSERT_TRUE(0 <= d.y0 && d.y0 <= d.y1 && d.y1 <= h && 0 <= d.x0 && d.x0 <= d.x1 && d.x1 <= w);
    auto inside = torch::zeros({h, w}, torch::kBool);
    inside.index_put_({Slice(d.y0, d.y1), Slice(d.x0, d.x1)}, true);
    EXPECT_TRUE(torch::equal(rgb, torch::where(inside, x.flip(0), x))) << "seed " << seed;
    const double area = static_cast<double>((d.y1 - d.y0) * (d.x1 - d.x0));
    EXPECT_EQ(d.lam, 1.0 - area / static_cast<double>(h * w));  // correct_lam
    EXPECT_TRUE(torch::equal(y, mixup_target(labels, 10, d.lam, 0.1)));
    clipped += d.y0 == 0 || d.y1 == h || d.x0 == 0 || d.x1 == w;
  }
  EXPECT_GT(clipped, 0);  // the correction was exercised
}

// Without correct_lam the drawn lam stays, and an unclipped box has timm's rand_bbox sides:
// 2 * (int(H * sqrt(1 - lam)) // 2).
TEST(MixBatch, CutmixBoxSideFollowsTheDrawnLam) {
  MixupOptions raw = cutmix_only();
  raw.correct_lam = false;
  const int64_t h = 32, w = 24;
  int unclipped = 0;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    auto a = torch::zeros({2, 1, h, w}), b = torch::zeros({2, 1, h, w});
    MixupDraw corrected, drawn;
    mix_batch(a, torch::tensor({0, 1}, torch::kLong), cutmix_only(), seed, &corrected);
    mix_batch(b, torch::tensor({0, 1}, torch::kLong), raw, seed, &drawn);
    EXPECT_EQ(std::tie(drawn.y0, drawn.y1, drawn.x0, drawn.x1),
              std::tie(corrected.y0, corrected.y1, corrected.x0, corrected.x1));
    if (drawn.y0 > 0 && drawn.y1 < h && drawn.x0 > 0 && drawn.x1 < w) {
      ++unclipped;
      const double ratio = std::sqrt(1.0 - drawn.lam);
      EXPECT_EQ(drawn.y1 - drawn.y0, 2 * (static_cast<int64_t>(h * ratio) / 2));
      EXPECT_EQ(drawn.x1 - drawn.x0, 2 * (static_cast<int64_t>(w * ratio) / 2));
    }
  }
  EXPECT_GT(unclipped, 0);
}

TEST(MixBatch, DeterministicFromTheSeedAndBothBranchesTaken) {
  testing::seed(6);
  auto x = torch::randn({4, 3, 8, 8});
  auto labels = torch::tensor({0, 1, 2, 3}, torch::kLong);
  MixupOptions o;  // MAE's: mixup 0.8, cutmix 1.0, switch 0.5
  int cutmix = 0, mixup = 0;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    auto a = x.clone(), b = x.clone();
    MixupDraw da, db;
    auto ya = mix_batch(a, labels, o, seed, &da);
    auto yb = mix_batch(b, labels, o, seed, &db);
    EXPECT_TRUE(torch::equal(a, b));
    EXPECT_TRUE(torch::equal(ya, yb));
    EXPECT_EQ(da.lam, db.lam);
    EXPECT_EQ(da.cutmix, db.cutmix);
    (da.cutmix ? cutmix : mixup) += 1;
  }
  EXPECT_GT(cutmix, 16);
  EXPECT_GT(mixup, 16);
  MixupDraw d0, d1;
  auto a = x.clone(), b = x.clone();
  mix_batch(a, labels, o, 100, &d0);
  mix_batch(b, labels, o, 101, &d1);
  EXPECT_NE(d0.lam, d1.lam);
}

// Beta(0.8, 0.8): mean 1/2, variance 1 / (4 * (2 * 0.8 + 1)) = 0.0962.
TEST(MixBatch, MixupLambdaFollowsBeta) {
  const int n = 4000;
  double sum = 0.0, sum_sq = 0.0;
  auto labels = torch::tensor({0, 1}, torch::kLong);
  for (int seed = 0; seed < n; ++seed) {
    auto rgb = torch::zeros({2, 1, 1, 1});
    MixupDraw d;
    mix_batch(rgb, labels, mixup_only(), static_cast<uint64_t>(seed), &d);
    sum += d.lam;
    sum_sq += d.lam * d.lam;
  }
  const double mean = sum / n, var = sum_sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.02);
  EXPECT_NEAR(var, 1.0 / (4.0 * 2.6), 0.008);
}

TEST(MixBatch, RefusesBadArguments) {
  auto labels3 = torch::tensor({0, 1, 2}, torch::kLong);
  auto odd = torch::zeros({3, 3, 4, 4});
  EXPECT_THROW(mix_batch(odd, labels3, MixupOptions{}, 0), c10::Error);
  auto rgb = torch::zeros({2, 3, 4, 4});
  EXPECT_THROW(mix_batch(rgb, labels3, MixupOptions{}, 0), c10::Error);
  auto flat = torch::zeros({2, 48});
  EXPECT_THROW(mix_batch(flat, torch::tensor({0, 1}, torch::kLong), MixupOptions{}, 0), c10::Error);
  MixupOptions negative;
  negative.mixup_alpha = -1.0;
  EXPECT_THROW(mix_batch(rgb, torch::tensor({0, 1}, torch::kLong), negative, 0),
               std::invalid_argument);
}

}  // namespace
}  // namespace c2fmae::data
