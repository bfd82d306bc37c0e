// Data sources by their data.source value: for each, what it reads, how a split is opened
// and the fix to suggest when it does not open. make_dataset (dataset.h) goes through this
// table; no other code branches on the source to open or explain a dataset.
//
// A new data source touches four files: its enum value and name in config/sections.h
// (DataSource, enum_names), its Dataset class (include/c2fmae/data/<name>_dataset.h and
// src/data/<name>_dataset.cpp), and one row in src/data/dataset_registry.cpp. A test
// checks that every DataSource has a row.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/data/dataset.h"

namespace c2fmae::data {

struct DataSourceEntry {
  config::DataSource source;
  /// What the source reads, for messages ("<split>.index and its tar shards in data.root").
  const char* reads;
  /// Split `split` of `data`: make_dataset's arguments. Throws DatasetError when data.root
  /// does not hold the split.
  std::shared_ptr<const Dataset> (*open)(const config::DataConfig& data, uint64_t seed,
                                         const std::string& split, int64_t synthetic_count);
  /// The fix to suggest when `open` throws DatasetError without a hint of its own.
  std::string (*repair_hint)(const config::DataConfig& data, const std::string& split);
};

/// Every source's row, in the order of the DataSource names.
const std::vector<DataSourceEntry>& data_sources();
/// The row of `source`; throws std::logic_error if it has none (a source added to the
/// config but not here).
const DataSourceEntry& data_source_entry(config::DataSource source);
/// One line per source, "  <name>  <what it reads>", for the programs' --help.
std::string describe_data_sources();

}  // namespace c2fmae::data
