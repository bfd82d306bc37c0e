#include "c2fmae/core/log.h"

#include "test_helpers.h"

namespace c2fmae::log {
namespace {

TEST(Log, LevelsParseAndFileSinkReceivesMessages) {
  EXPECT_EQ(parse_level("warn"), Level::kWarn);
  EXPECT_THROW(parse_level("loud"), std::invalid_argument);
  const std::string path = ::testing::TempDir() + "c2fmae_log_test.log";
  add_file_sink(path);
  info("hello from the log test");
  error("flushes");
  EXPECT_NE(c2fmae::testing::read_text(path).find("hello from the log test"), std::string::npos);
}

}  // namespace
}  // namespace c2fmae::log
