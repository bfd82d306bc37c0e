#include "c2fmae/data/dataset_registry.h"

#include <gtest/gtest.h>

#include "c2fmae/core/usage_error.h"
#include "data_fixture.h"

namespace c2fmae::data {
namespace {

TEST(DatasetRegistry, EveryDataSourceHasOneRowInNameOrder) {
  const auto& rows = data_sources();
  const auto names = enum_names(config::DataSource{});
  ASSERT_EQ(rows.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto source = names[i].first;
    EXPECT_EQ(rows[i].source, source) << names[i].second;
    const auto& row = data_source_entry(source);
    EXPECT_EQ(&row, &rows[i]) << names[i].second;
    EXPECT_NE(std::string(row.reads), "") << names[i].second;
    EXPECT_NE(row.open, nullptr) << names[i].second;
    EXPECT_NE(row.repair_hint(config::DataConfig{}, "train"), "") << names[i].second;
    EXPECT_NE(describe_data_sources().find(std::string("  ") + names[i].second + " "),
              std::string::npos);
  }
}

TEST(DatasetRegistry, MakeDatasetOpensThroughTheRowAndHintsItsRepair) {
  config::DataConfig data;
  data.synthetic_samples = 7;
  EXPECT_EQ(make_dataset(data, 0)->size(), 7);
  EXPECT_EQ(make_dataset(data, 0, "val", 3)->size(), 3);
  const auto root = testing::fresh_dir("dataset_registry_empty");
  data.root = root;
  for (const auto source : {config::DataSource::kFolder, config::DataSource::kShards}) {
    data.source = source;
    try {
      make_dataset(data, 0, "train");
      ADD_FAILURE() << data.source.name() << ": opened an empty folder";
    } catch (const UsageError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("data.source = " + data.source.name()), std::string::npos) << msg;
      EXPECT_NE(msg.find(source == config::DataSource::kShards ? "c2fmae_pack" : "hint:"),
                std::string::npos)
          << msg;
    }
  }
}

}  // namespace
}  // namespace c2fmae::data
