#include "c2fmae/optim/lr_schedule.h"

#include <cmath>

#include "test_helpers.h"

namespace c2fmae::optim {
namespace {

TEST(LrSchedule, LinearWarmupThenHalfCycleCosine) {
  LrSchedule s{1.0, 0.1, 10, 110};
  EXPECT_DOUBLE_EQ(learning_rate(s, 0), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 5), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10), 1.0);
  EXPECT_NEAR(learning_rate(s, 60), 0.1 + 0.9 * 0.5, 1e-12);  // half-way: cos(pi/2) = 0
  EXPECT_NEAR(learning_rate(s, 35), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);
  EXPECT_DOUBLE_EQ(learning_rate(s, 110), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 500), 0.1);
  EXPECT_DOUBLE_EQ(scaled_learning_rate(1.5e-4, 0.0, 4096), 2.4e-3);
  EXPECT_DOUBLE_EQ(scaled_learning_rate(1.5e-4, 1e-3, 4096), 1e-3);
}

}  // namespace
}  // namespace c2fmae::optim
