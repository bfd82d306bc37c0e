#include "c2fmae/train/metrics_log.h"

#include <fstream>

#include "test_helpers.h"

namespace c2fmae::train {
namespace {

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

}  // namespace
}  // namespace c2fmae::train
