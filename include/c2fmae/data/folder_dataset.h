// data.source: folder. A folder dataset split in MultiMAE's layout (images with semantic
// and instance PNGs) or torchvision's ImageFolder layout (images only); folder_index.h says
// how the files are found. Each sample is read from its files when it is loaded.
#pragma once
#include "c2fmae/data/dataset.h"
#include "c2fmae/data/folder_index.h"

namespace c2fmae::data {

class FolderDataset : public Dataset {
 public:
  /// Lists root/<split>; throws DatasetError (folder_index.h) if it cannot be used.
  FolderDataset(const std::string& root, const std::string& split);

  int64_t size() const override { return static_cast<int64_t>(index_.samples.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(index_.classes.size()); }
  std::vector<std::string> class_names() const override { return index_.classes; }
  bool has_masks() const override { return index_.has_masks(); }
  std::string describe(int64_t index) const override;
  int64_t load(int64_t index, uint64_t seed, const SampleOptions& options,
               const SampleSlot& slot) const override;

  const FolderIndex& index() const { return index_; }

 private:
  FolderIndex index_;
};

}  // namespace c2fmae::data
