#include "c2fmae/curriculum/batch_split.h"

#include "test_helpers.h"

namespace c2fmae::curriculum {
namespace {

TEST(BatchSplit, LargestRemainderCounts) {
  EXPECT_EQ(split_counts({0.5, 0.25, 0.25}, 10), (std::array<int64_t, 3>{5, 3, 2}));
  EXPECT_EQ(split_counts({1, 0, 0}, 7), (std::array<int64_t, 3>{7, 0, 0}));
  EXPECT_EQ(split_counts({0.2, 0.3, 0.5}, 256), (std::array<int64_t, 3>{51, 77, 128}));
  EXPECT_EQ(split_counts({1.0 / 3, 1.0 / 3, 1.0 / 3}, 1), (std::array<int64_t, 3>{1, 0, 0}));
  for (int64_t b = 1; b < 40; ++b) {
    auto c = split_counts({0.1, 0.6, 0.3}, b);
    EXPECT_EQ(c[0] + c[1] + c[2], b);
  }
}

TEST(BatchSplit, AssignmentIsDeterministicInSeedAndStep) {
  GeneratorWeights w{0.3, 0.3, 0.4};
  auto a = assign_generators(w, 64, 1, 10);
  EXPECT_EQ(a, assign_generators(w, 64, 1, 10));
  EXPECT_NE(a, assign_generators(w, 64, 1, 11));
  EXPECT_NE(a, assign_generators(w, 64, 2, 10));
  auto c = split_counts(w, 64);
  for (int64_t g = 0; g < 3; ++g) EXPECT_EQ(std::count(a.begin(), a.end(), g), c[g]);
}

}  // namespace
}  // namespace c2fmae::curriculum
