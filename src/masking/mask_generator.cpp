#include "c2fmae/masking/mask_generator.h"

#include "c2fmae/masking/instance_generator.h"
#include "c2fmae/masking/random_generator.h"
#include "c2fmae/masking/semantic_generator.h"

namespace c2fmae::masking {

MaskSpec MaskSpec::from_config(const config::ModelConfig& model,
                               const config::MaskingConfig& masking) {
  MaskSpec spec;
  spec.modalities = model.modalities;
  spec.patch = model.patch_size;
  spec.grid = model.grid_size();
  spec.num_visible = masking.num_visible;
  return spec;
}

const std::vector<std::string>& mask_generator_names() {
  static const std::vector<std::string> kNames = {"semantic", "instance", "random"};
  return kNames;
}

std::unique_ptr<MaskGenerator> make_mask_generator(const std::string& name, const MaskSpec& spec,
                                                   const config::MaskingConfig& config) {
  if (name == "random") return std::make_unique<RandomGenerator>(spec, config.dirichlet_alpha);
  if (name == "semantic") {
    return std::make_unique<SemanticGenerator>(spec, config.semantic_hide_ratio,
                                               config.dirichlet_alpha);
  }
  if (name == "instance") {
    return std::make_unique<InstanceGenerator>(spec, config.instance_hide_ratio,
                                               config.dirichlet_alpha);
  }
  throw std::invalid_argument("unknown mask generator '" + name +
                              "'; hint: use semantic, instance or random");
}

}  // namespace c2fmae::masking
