#include "c2fmae/train/stop_signal.h"

#include <csignal>

#include "test_helpers.h"

namespace c2fmae::train {
namespace {

TEST(StopSignal, RecordsSigtermAndSigintInsteadOfDying) {
  install_stop_handlers();
  clear_stop_signal();
  EXPECT_EQ(stop_signal(), 0);
  std::raise(SIGTERM);
  EXPECT_EQ(stop_signal(), SIGTERM);
  std::raise(SIGINT);
  EXPECT_EQ(stop_signal(), SIGINT);
  clear_stop_signal();
  EXPECT_EQ(stop_signal(), 0);
}

}  // namespace
}  // namespace c2fmae::train
