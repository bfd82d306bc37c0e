#include "c2fmae/data/dataset.h"

#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/dataset_registry.h"
#include "c2fmae/data/folder_index.h"
#include "c2fmae/data/synthetic_shapes.h"

namespace c2fmae::data {

std::shared_ptr<const Dataset> make_dataset(const config::DataConfig& data, uint64_t seed,
                                            const std::string& split, int64_t synthetic_count) {
  const auto& source = data_source_entry(data.source);
  // A dataset that cannot be opened is a problem with what the user asked for (exit 2),
  // found before any run directory is touched.
  try {
    return source.open(data, seed, split, synthetic_count);
  } catch (const DatasetError& e) {
    const std::string what = e.what();
    const std::string head = "data.root = " + data.root + " (data.source = " + data.source.name() +
                             ", split " + split + "): ";
    if (what.find("\nhint: ") != std::string::npos) throw UsageError(head + what);  // has its own
    throw UsageError(with_hint(head + what, source.repair_hint(data, split)));
  }
}

void check_data_config(const config::DataConfig& data, const config::ModelConfig& model,
                       config::Checker& c) {
  if (data.source == config::DataSource::kSynthetic) {
    const int64_t classes = SyntheticShapes::kNumSemanticClasses;
    c.require(!model.has(Modality::kSemantic) || model.num_semantic_classes >= classes,
              "model.num_semantic_classes", model.num_semantic_classes,
              "the synthetic dataset has " + std::to_string(classes) + " semantic classes",
              "set model.num_semantic_classes >= " + std::to_string(classes));
  }
}

}  // namespace c2fmae::data
