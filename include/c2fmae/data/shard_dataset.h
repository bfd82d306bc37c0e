// data.source: shards. A split packed by c2fmae_pack (shard_index.h): each sample is one
// read of its byte span in its shard (its members are adjacent), parsed as tar members.
#pragma once
#include <vector>

#include "c2fmae/data/dataset.h"
#include "c2fmae/data/shard_index.h"

namespace c2fmae::data {

class ShardDataset : public Dataset {
 public:
  /// Reads and checks the split's index and opens its shards; throws DatasetError.
  ShardDataset(const std::string& root, const std::string& split);
  ~ShardDataset() override;
  ShardDataset(const ShardDataset&) = delete;
  ShardDataset& operator=(const ShardDataset&) = delete;

  int64_t size() const override { return static_cast<int64_t>(index_.samples.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(index_.classes.size()); }
  std::vector<std::string> class_names() const override { return index_.classes; }
  bool has_masks() const override { return index_.has_masks(); }
  std::string describe(int64_t index) const override;
  int64_t load(int64_t index, uint64_t seed, const SampleOptions& options,
               const SampleSlot& slot) const override;

  const ShardIndex& index() const { return index_; }

 private:
  std::string root_;
  ShardIndex index_;
  std::vector<int> fds_;  ///< one per shard, read with pread from any thread
};

}  // namespace c2fmae::data
