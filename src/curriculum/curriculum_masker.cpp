#include "c2fmae/curriculum/curriculum_masker.h"

#include <torch/torch.h>

#include "c2fmae/core/seeding.h"

namespace c2fmae::curriculum {

CurriculumMasker::CurriculumMasker(const config::Config& config)
    : spec_(masking::MaskSpec::from_config(config.model, config.masking)),
      schedule_(config.curriculum,
                ModalityWeights{config.loss.weight_semantic, config.loss.weight_instance,
                                config.loss.weight_rgb}) {
  const auto& names = masking::mask_generator_names();
  for (size_t g = 0; g < generators_.size(); ++g) {
    generators_[g] = masking::make_mask_generator(names[g], spec_, config.masking);
  }
}

torch::Tensor CurriculumMasker::make_mask(const Batch& batch, int64_t step, int64_t total_steps,
                                          uint64_t seed) const {
  const int64_t b = batch.size();
  const double progress =
      total_steps > 0 ? static_cast<double>(step) / static_cast<double>(total_steps) : 0.0;
  const auto assignment = assign_generators(schedule_.generator_weights(progress), b, seed, step);
  // Generators read only the label maps: leave the images out of the per-generator slices.
  Batch maps = batch;
  if (maps.semantic.defined() || maps.instance.defined() || maps.label.defined())
    maps.rgb = torch::Tensor();
  maps.mask = torch::Tensor();
  auto mask = torch::empty({b, spec_.num_modalities(), spec_.num_patches()}, torch::kBool);
  for (int64_t g = 0; g < 3; ++g) {
    std::vector<int64_t> members;
    for (int64_t i = 0; i < b; ++i) {
      if (assignment[i] == g) members.push_back(i);
    }
    if (members.empty()) continue;
    auto index = torch::tensor(members, torch::kLong);
    const uint64_t gen_seed =
        mix_seed({seed, static_cast<uint64_t>(step), static_cast<uint64_t>(g)});
    mask.index_copy_(0, index, generators_[g]->generate(maps.select(index), gen_seed));
  }
  return mask;
}

}  // namespace c2fmae::curriculum
