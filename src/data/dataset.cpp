#include "c2fmae/data/dataset.h"

#include "c2fmae/data/synthetic_shapes.h"

namespace c2fmae::data {

std::shared_ptr<const Dataset> make_dataset(const config::DataConfig& data, uint64_t seed) {
  // data.source is validated: synthetic is the only source that has landed.
  return std::make_shared<SyntheticShapes>(data.synthetic_samples, seed);
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
