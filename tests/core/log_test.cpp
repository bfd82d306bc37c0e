#include "c2fmae/core/log.h"

#include <cstdio>

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

TEST(Log, AFileSinkIsAddedOnceAndCanBeRemoved) {
  const std::string path = ::testing::TempDir() + "c2fmae_log_sink_test.log";
  std::remove(path.c_str());
  add_file_sink(path);
  add_file_sink(path);
  info("written once");
  remove_file_sink(path);
  info("not written");
  const auto text = c2fmae::testing::read_text(path);
  EXPECT_EQ(text.find("written once"), text.rfind("written once"));
  EXPECT_NE(text.find("written once"), std::string::npos);
  EXPECT_EQ(text.find("not written"), std::string::npos);
}

}  // namespace
}  // namespace c2fmae::log
