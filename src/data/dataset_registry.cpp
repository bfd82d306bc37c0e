#include "c2fmae/data/dataset_registry.h"

#include <algorithm>
#include <stdexcept>

#include "c2fmae/core/seeding.h"
#include "c2fmae/data/folder_dataset.h"
#include "c2fmae/data/shard_dataset.h"
#include "c2fmae/data/synthetic_shapes.h"

namespace c2fmae::data {
namespace {

/// data.split's scenes come from the run's seed; another split's from the seed and the
/// split's name, so a validation split shares no scene with training.
std::shared_ptr<const Dataset> open_synthetic(const config::DataConfig& data, uint64_t seed,
                                              const std::string& split, int64_t synthetic_count) {
  if (split == data.split) return std::make_shared<SyntheticShapes>(data.synthetic_samples, seed);
  uint64_t salt = 0;
  for (const char ch : split) salt = salt * 131 + static_cast<unsigned char>(ch);
  return std::make_shared<SyntheticShapes>(
      synthetic_count > 0 ? synthetic_count : data.synthetic_samples, mix_seed({seed, salt}));
}

std::shared_ptr<const Dataset> open_folder(const config::DataConfig& data, uint64_t,
                                           const std::string& split, int64_t) {
  return std::make_shared<FolderDataset>(data.root, split);
}

std::shared_ptr<const Dataset> open_shards(const config::DataConfig& data, uint64_t,
                                           const std::string& split, int64_t) {
  return std::make_shared<ShardDataset>(data.root, split);
}

std::string synthetic_hint(const config::DataConfig&, const std::string&) {
  return "the synthetic shapes read no files; check data.synthetic_samples";
}

std::string folder_hint(const config::DataConfig&, const std::string& split) {
  return "point data.root at a folder holding " + split + "/{rgb,semseg,instance}/<class>/ or " +
         split + "/<class>/";
}

std::string shards_hint(const config::DataConfig& data, const std::string& split) {
  return "pack a folder dataset with c2fmae_pack --root DIR --out " + data.root + " --split " +
         split + ", or point data.root at a shard folder";
}

}  // namespace

const std::vector<DataSourceEntry>& data_sources() {
  static const std::vector<DataSourceEntry> entries = {
      {config::DataSource::kSynthetic, "built-in synthetic shapes drawn from the seed (no files)",
       open_synthetic, synthetic_hint},
      {config::DataSource::kFolder,
       "data.root/<split>/{rgb,semseg,instance}/<class>/ (MultiMAE's layout) or "
       "data.root/<split>/<class>/ (an ImageFolder)",
       open_folder, folder_hint},
      {config::DataSource::kShards,
       "data.root/<split>.index and its tar shards, written by c2fmae_pack", open_shards,
       shards_hint},
  };
  return entries;
}

const DataSourceEntry& data_source_entry(config::DataSource source) {
  for (const auto& e : data_sources()) {
    if (e.source == source) return e;
  }
  throw std::logic_error(std::string("data.source = ") + enum_name(source) +
                         " has no row in data/dataset_registry.cpp");
}

std::string describe_data_sources() {
  std::string out;
  for (const auto& e : data_sources()) {
    std::string name = enum_name(e.source);
    name.resize(std::max<size_t>(name.size() + 1, 11), ' ');
    out += "  " + name + e.reads + "\n";
  }
  return out;
}

}  // namespace c2fmae::data
