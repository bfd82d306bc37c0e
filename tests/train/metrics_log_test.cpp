#include "c2fmae/train/metrics_log.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "test_helpers.h"

namespace c2fmae::train {
namespace {

namespace fs = std::filesystem;

TEST(MetricsLog, JsonLinesRoundTripNumbersAndEscapeStrings) {
  MetricsRecord r;
  r.add("step", int64_t{7})
      .add("loss", 0.1)
      .add("bad", std::nan(""))
      .add("note", std::string("a\"b\n"));
  EXPECT_EQ(r.json(), "{\"step\": 7, \"loss\": 0.1, \"bad\": null, \"note\": \"a\\\"b\\n\"}");
  const auto path = ::testing::TempDir() + "c2fmae_metrics.jsonl";
  std::remove(path.c_str());
  {
    MetricsLog log(path);
    log.write(r);
    log.write(MetricsRecord().add("step", int64_t{8}));
  }
  MetricsLog again(path);  // appends
  again.write(MetricsRecord().add("step", int64_t{9}));
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 3);
  EXPECT_THROW(MetricsLog("/nonexistent/dir/m.jsonl"), std::runtime_error);
}

TEST(MetricsLog, TruncateKeepsRecordsUpToAStep) {
  const auto path = ::testing::TempDir() + "c2fmae_metrics_truncate.jsonl";
  std::remove(path.c_str());
  EXPECT_EQ(truncate_metrics(path, 3), 0);  // missing file: nothing to do
  {
    MetricsLog log(path);
    for (int64_t s = 1; s <= 6; ++s) log.write(MetricsRecord().add("step", s).add("loss", 1.0));
  }
  std::ofstream(path, std::ios::app) << "{\"step\": 7, \"lo";  // cut short by a kill
  EXPECT_EQ(truncate_metrics(path, 4), 3);
  std::ifstream in(path);
  std::string line, last;
  int lines = 0;
  while (std::getline(in, line)) ++lines, last = line;
  EXPECT_EQ(lines, 4);
  EXPECT_EQ(last, "{\"step\": 4, \"loss\": 1}");
  EXPECT_EQ(truncate_metrics(path, 4), 0);
}

TEST(MetricsLog, AMalformedLineIsKeptAndDoesNotBlockTheTruncation) {
  const auto path = ::testing::TempDir() + "c2fmae_metrics_malformed.jsonl";
  std::ofstream(path, std::ios::trunc) << "{\"step\": 1}\nnot json at all\n{\"step\": \"x\"}\n"
                                       << "{\"step\": 2}\n{\"step\": 3}\n";
  EXPECT_EQ(truncate_metrics(path, 2), 1);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"step\": 1}\nnot json at all\n{\"step\": \"x\"}\n{\"step\": 2}\n");
}

TEST(MetricsLog, WhatIsNoRegularFileIsRefusedNotReadWithoutEndOrWaitedFor) {
  const auto dir = testing::fresh_dir("c2fmae_metrics_not_regular");
  auto refused = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const FileError& e) {
      return std::string(e.what()).find("not a regular file") != std::string::npos;
    }
    return false;
  };
  // On resume: a link to /dev/zero would be read until memory runs out.
  fs::create_symlink("/dev/zero", dir + "/zero.jsonl");
  EXPECT_TRUE(refused([&] { truncate_metrics(dir + "/zero.jsonl", 3); }));
  fs::create_directories(dir + "/dir.jsonl");
  EXPECT_TRUE(refused([&] { truncate_metrics(dir + "/dir.jsonl", 3); }));
  EXPECT_TRUE(refused([&] { MetricsLog log(dir + "/dir.jsonl"); }));
  // A FIFO nobody reads: open() for writing would wait for ever.
  ASSERT_EQ(::mkfifo((dir + "/fifo.jsonl").c_str(), 0644), 0);
  EXPECT_TRUE(refused([&] { MetricsLog log(dir + "/fifo.jsonl"); }));
  EXPECT_EQ(truncate_metrics(dir + "/missing.jsonl", 3), 0);
}

TEST(MetricsLog, AWriteThatFailsNamesTheFileAndTheReason) {
  MetricsLog log("/dev/full");  // every write: "No space left on device"
  try {
    log.write(MetricsRecord().add("step", int64_t{1}));
    ADD_FAILURE() << "a failed write went unnoticed";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/full"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace c2fmae::train
