#include "c2fmae/core/random.h"

#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "test_helpers.h"

namespace c2fmae {
namespace {

/// Mean and variance of n draws.
template <class Draw>
std::pair<double, double> moments(int n, Draw draw) {
  double sum = 0, sq = 0;
  for (int i = 0; i < n; ++i) {
    const double x = draw();
    sum += x;
    sq += x * x;
  }
  const double mean = sum / n;
  return {mean, sq / n - mean * mean};
}

TEST(Random, UniformDrawsStayInRangeWithTheRightMoments) {
  Rng rng(1);
  auto [mean, var] = moments(200000, [&] {
    const double x = uniform01(rng);
    EXPECT_TRUE(x >= 0.0 && x < 1.0);
    return x;
  });
  EXPECT_NEAR(mean, 0.5, 0.005);
  EXPECT_NEAR(var, 1.0 / 12, 0.002);
  for (int i = 0; i < 1000; ++i) {
    const double x = uniform(rng, -2.0, 3.0);
    EXPECT_TRUE(x >= -2.0 && x < 3.0);
  }
}

TEST(Random, UniformIntCoversTheInclusiveRangeEvenly) {
  Rng rng(2);
  std::vector<int> hist(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    const auto k = uniform_int(rng, -3, 3);
    ASSERT_TRUE(k >= -3 && k <= 3) << k;
    ++hist[k + 3];
  }
  for (int h : hist) EXPECT_NEAR(h, n / 7.0, 0.05 * n / 7.0);
  EXPECT_EQ(uniform_int(rng, 5, 5), 5);
  EXPECT_THROW(uniform_int(rng, 2, 1), std::invalid_argument);
  const auto wide = uniform_int(rng, INT64_MIN, INT64_MAX);  // whole range: no overflow
  (void)wide;
}

TEST(Random, NormalAndGammaHaveTheirMoments) {
  Rng rng(3);
  auto [m, v] = moments(200000, [&] { return standard_normal(rng); });
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(v, 1.0, 0.02);
  for (double alpha : {0.3, 1.0, 2.5}) {  // Gamma(alpha, 1): mean = variance = alpha
    auto [gm, gv] = moments(200000, [&] {
      const double g = gamma(rng, alpha);
      EXPECT_GE(g, 0.0);
      return g;
    });
    EXPECT_NEAR(gm, alpha, 0.02 * alpha + 0.005) << alpha;
    EXPECT_NEAR(gv, alpha, 0.05 * alpha + 0.01) << alpha;
  }
  EXPECT_THROW(gamma(rng, 0.0), std::invalid_argument);
}

TEST(Random, DrawsAreAFunctionOfTheSeed) {
  Rng a(7), b(7);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(uniform01(a), uniform01(b));
    EXPECT_EQ(gamma(a, 0.7), gamma(b, 0.7));
    EXPECT_EQ(uniform_int(a, 0, 9), uniform_int(b, 0, 9));
  }
}

TEST(Random, ChooseUniformPicksDistinct) {
  Rng rng(3);
  std::vector<int64_t> v(50);
  std::iota(v.begin(), v.end(), 0);
  choose_uniform(rng, v, 20);
  std::set<int64_t> picked(v.begin(), v.begin() + 20);
  EXPECT_EQ(picked.size(), 20u);
  std::set<int64_t> all(v.begin(), v.end());
  EXPECT_EQ(all.size(), 50u);
}

}  // namespace
}  // namespace c2fmae
