#include "c2fmae/masking/budget_split.h"

#include <set>

#include "test_helpers.h"

namespace c2fmae::masking {
namespace {

TEST(BudgetSplit, SumsToBudgetAndRespectsCapacity) {
  for (uint64_t s = 0; s < 500; ++s) {
    Rng rng(s);
    const std::vector<int64_t> cap = {196, 5, 196};
    auto c = split_budget(rng, s % 2 ? 0.2 : 1.0, 98, cap);
    EXPECT_EQ(c[0] + c[1] + c[2], 98);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_GE(c[i], 0);
      EXPECT_LE(c[i], cap[i]);
    }
  }
  Rng rng(1);
  auto full = split_budget(rng, 1.0, 10, {4, 0, 6});
  EXPECT_EQ(full, (std::vector<int64_t>{4, 0, 6}));
  EXPECT_THROW(split_budget(rng, 1.0, 11, {4, 0, 6}), std::invalid_argument);
}

TEST(BudgetSplit, DirichletSharesAreBalancedOnAverageAndSeeded) {
  double share[3] = {0, 0, 0};
  for (uint64_t s = 0; s < 2000; ++s) {
    Rng rng(s);
    auto c = split_budget(rng, 1.0, 98, {196, 196, 196});
    for (int i = 0; i < 3; ++i) share[i] += c[i] / 98.0 / 2000.0;
  }
  for (double x : share) EXPECT_NEAR(x, 1.0 / 3.0, 0.03);
  Rng a(7), b(7);
  EXPECT_EQ(split_budget(a, 1.0, 98, {196, 196, 196}), split_budget(b, 1.0, 98, {196, 196, 196}));
}

}  // namespace
}  // namespace c2fmae::masking
