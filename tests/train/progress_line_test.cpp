#include "c2fmae/train/progress_line.h"

#include "test_helpers.h"

namespace c2fmae::train {
namespace {

TEST(ProgressLine, TextWithRateAndEta) {
  EXPECT_EQ(format_duration(12.4), "12s");
  EXPECT_EQ(format_duration(200), "3m20s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(progress_text(120, 600, 1.23456, 310.25, 0.5),
            "step 120/600 (20.0%) loss 1.2346 | 310.2 img/s | ETA 4m00s");
  ProgressLine off(false);
  off.update("not drawn");  // no terminal: nothing happens
  off.finish();
}

}  // namespace
}  // namespace c2fmae::train
