#include "c2fmae/curriculum/batch_split.h"

#include <numeric>

#include "test_helpers.h"

namespace c2fmae::curriculum {
namespace {

TEST(BatchSplit, CountsAreFloorOrCeilingOfEachShareAndSumToTheBatch) {
  EXPECT_EQ(split_counts({1, 0, 0}, 7, 0.5), (std::vector<int64_t>{7, 0, 0}));
  EXPECT_EQ(split_counts({0.5, 0.25, 0.25}, 8, 0.99), (std::vector<int64_t>{4, 2, 2}));
  // Shares 5, 2.5, 2.5: one leftover sample, to instance below offset 0.5, else to random.
  EXPECT_EQ(split_counts({0.5, 0.25, 0.25}, 10, 0.2), (std::vector<int64_t>{5, 3, 2}));
  EXPECT_EQ(split_counts({0.5, 0.25, 0.25}, 10, 0.7), (std::vector<int64_t>{5, 2, 3}));
  EXPECT_THROW(split_counts({1, 0, 0}, 4, 1.0), std::invalid_argument);
  const std::vector<double> w{0.1, 0.6, 0.3};
  for (int64_t b = 1; b < 40; ++b) {
    for (double offset : {0.0, 0.3, 0.999}) {
      auto c = split_counts(w, b, offset);
      EXPECT_EQ(c[0] + c[1] + c[2], b);
      const auto& a = w;
      for (size_t g = 0; g < 3; ++g) {
        EXPECT_GE(c[g], static_cast<int64_t>(std::floor(b * a[g] - 1e-9))) << b << " " << g;
        EXPECT_LE(c[g], static_cast<int64_t>(std::ceil(b * a[g] + 1e-9))) << b << " " << g;
      }
    }
  }
}

TEST(BatchSplit, CountsAreUnbiasedOverTheOffset) {
  // Largest-remainder rounding would give 3, 2, 3 every step (means 3, 2, 3) and never
  // sample a weight of 0.1 in a batch of 4.
  for (const auto& [w, b] : std::vector<std::pair<std::vector<double>, int64_t>>{
           {{0.3, 0.3, 0.4}, 8}, {{0.5, 0.5, 0.0}, 1}, {{0.1, 0.0, 0.9}, 4}}) {
    std::array<double, 3> mean{};
    const int n = 1000;
    for (int i = 0; i < n; ++i) {
      const auto c = split_counts(w, b, (i + 0.5) / n);
      for (size_t g = 0; g < 3; ++g) mean[g] += static_cast<double>(c[g]) / n;
    }
    const auto& a = w;
    for (size_t g = 0; g < 3; ++g) EXPECT_NEAR(mean[g], b * a[g], 2e-3) << b << " " << g;
  }
}

TEST(BatchSplit, HandlesAnyNumberOfGenerators) {
  const std::vector<double> w{0.2, 0.2, 0.2, 0.2, 0.1, 0.1};
  for (double offset : {0.0, 0.5, 0.9}) {
    const auto c = split_counts(w, 13, offset);
    ASSERT_EQ(c.size(), 6u);
    EXPECT_EQ(std::accumulate(c.begin(), c.end(), int64_t{0}), 13);
  }
  EXPECT_EQ(split_counts({2.0}, 5, 0.3), (std::vector<int64_t>{5}));
  EXPECT_THROW(split_counts({}, 5, 0.3), std::invalid_argument);
  EXPECT_THROW(split_counts({0.0, 0.0}, 5, 0.3), std::invalid_argument);
}

TEST(BatchSplit, AssignmentIsDeterministicInSeedAndStep) {
  const std::vector<double> w{0.3, 0.3, 0.4};
  auto a = assign_generators(w, 64, 1, 10);
  EXPECT_EQ(a, assign_generators(w, 64, 1, 10));
  EXPECT_NE(a, assign_generators(w, 64, 1, 11));
  EXPECT_NE(a, assign_generators(w, 64, 2, 10));
  EXPECT_EQ(a.size(), 64u);
  const int64_t floor_share[3] = {19, 19, 25};  // 64 x (0.3, 0.3, 0.4) = 19.2, 19.2, 25.6
  for (int64_t g = 0; g < 3; ++g) {
    const auto n = std::count(a.begin(), a.end(), g);
    EXPECT_TRUE(n == floor_share[g] || n == floor_share[g] + 1) << g << ": " << n;
  }
}

}  // namespace
}  // namespace c2fmae::curriculum
