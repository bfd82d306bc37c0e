#include "c2fmae/core/number_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>

namespace c2fmae {
namespace {

TEST(NumberText, ShortestForConfigValues) {
  EXPECT_EQ(shortest_text(0.4), "0.4");
  EXPECT_EQ(shortest_text(0.95), "0.95");
  EXPECT_EQ(shortest_text(1.5e-4), "0.00015");
  EXPECT_EQ(shortest_text(1e-8), "1e-08");
  EXPECT_EQ(shortest_text(3.0), "3");
  EXPECT_EQ(shortest_text(-2.5), "-2.5");
  EXPECT_EQ(shortest_text(0.0), "0");
}

TEST(NumberText, ReadsBackExactly) {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
  std::uniform_int_distribution<int> exponent(-300, 300);
  for (int i = 0; i < 2000; ++i) {
    const double v = std::ldexp(mantissa(gen), exponent(gen));
    const auto text = shortest_text(v);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;
  }
  EXPECT_EQ(shortest_text(0.1 + 0.2), "0.30000000000000004");
}

TEST(NumberText, NonFinite) {
  EXPECT_EQ(shortest_text(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(shortest_text(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(shortest_text(std::nan("")), "nan");
}

}  // namespace
}  // namespace c2fmae
