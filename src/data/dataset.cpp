#include "c2fmae/data/dataset.h"

#include "c2fmae/core/seeding.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/folder_dataset.h"
#include "c2fmae/data/shard_dataset.h"
#include "c2fmae/data/synthetic_shapes.h"

namespace c2fmae::data {

std::shared_ptr<const Dataset> make_dataset(const config::DataConfig& data, uint64_t seed,
                                            const std::string& split, int64_t synthetic_count) {
  if (data.source == "synthetic") {
    if (split == data.split) return std::make_shared<SyntheticShapes>(data.synthetic_samples, seed);
    uint64_t salt = 0;
    for (const char ch : split) salt = salt * 131 + static_cast<unsigned char>(ch);
    return std::make_shared<SyntheticShapes>(
        synthetic_count > 0 ? synthetic_count : data.synthetic_samples, mix_seed({seed, salt}));
  }
  // A dataset that cannot be opened is a problem with what the user asked for (exit 2),
  // found before any run directory is touched.
  try {
    if (data.source == "folder") return std::make_shared<FolderDataset>(data.root, split);
    if (data.source == "shards") return std::make_shared<ShardDataset>(data.root, split);
  } catch (const DatasetError& e) {
    const std::string what = e.what();
    const std::string head =
        "data.root = " + data.root + " (data.source = " + data.source + ", split " + split + "): ";
    if (what.find("\nhint: ") != std::string::npos) throw UsageError(head + what);  // has its own
    throw UsageError(with_hint(
        head + what, data.source == "shards"
                         ? "pack a folder dataset with c2fmae_pack --root DIR --out " + data.root +
                               " --split " + split + ", or point data.root at a shard folder"
                         : "point data.root at a folder holding " + split +
                               "/{rgb,semseg,instance}/<class>/ or " + split + "/<class>/"));
  }
  throw UsageError("data.source = " + data.source + ": unknown data source");
}

void check_data_config(const config::DataConfig& data, const config::ModelConfig& model,
                       config::Checker& c) {
  if (data.source == "synthetic") {
    const int64_t classes = SyntheticShapes::kNumSemanticClasses;
    c.require(!model.has(Modality::kSemantic) || model.num_semantic_classes >= classes,
              "model.num_semantic_classes", model.num_semantic_classes,
              "the synthetic dataset has " + std::to_string(classes) + " semantic classes",
              "set model.num_semantic_classes >= " + std::to_string(classes));
  }
}

}  // namespace c2fmae::data
