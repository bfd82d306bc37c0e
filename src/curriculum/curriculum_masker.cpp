#include "c2fmae/curriculum/curriculum_masker.h"

#include <torch/torch.h>

#include "c2fmae/core/seeding.h"
#include "c2fmae/curriculum/batch_split.h"
#include "c2fmae/masking/generator_registry.h"

namespace c2fmae::curriculum {

CurriculumMasker::CurriculumMasker(const masking::MaskSpec& spec,
                                   const config::MaskingConfig& masking,
                                   const std::vector<std::string>& generator_names)
    : spec_(spec), names_(generator_names) {
  for (const auto& name : names_)
    generators_.push_back(masking::make_generator(name, spec_, masking));
}

masking::MaskNeeds CurriculumMasker::needs(const GeneratorWeights* weights) const {
  masking::MaskNeeds all;
  for (size_t g = 0; g < generators_.size(); ++g) {
    if (weights && !(weights->of(names_[g]) > 0.0)) continue;
    const auto n = generators_[g]->needs();
    all.affinity = all.affinity || n.affinity;
    all.label_maps = all.label_maps || n.label_maps;
  }
  return all;
}

torch::Tensor CurriculumMasker::make_mask(const masking::MaskInputs& inputs,
                                          const GeneratorWeights& weights, uint64_t seed,
                                          int64_t step, int64_t global_offset,
                                          int64_t global_size) const {
  const int64_t b = inputs.size();
  if (global_size == 0) global_size = b;
  TORCH_CHECK(global_offset >= 0 && global_offset + b <= global_size, "make_mask: samples [",
              global_offset, ", ", global_offset + b, ") outside a global batch of ", global_size);
  std::vector<double> w;
  for (const auto& name : names_) w.push_back(weights.of(name));
  // Generators are assigned over the global batch; this batch takes its slice.
  auto assignment = assign_generators(w, global_size, seed, step);
  assignment.erase(assignment.begin(), assignment.begin() + global_offset);
  assignment.resize(b);
  // Generators read only the label maps: leave the images out of the per-generator slices.
  masking::MaskInputs maps = inputs;
  if (maps.batch.semantic.defined() || maps.batch.instance.defined() ||
      maps.batch.label.defined()) {
    maps.batch.rgb = torch::Tensor();
  }
  maps.batch.mask = torch::Tensor();
  auto mask = torch::empty({b, spec_.num_modalities(), spec_.num_patches()}, torch::kBool);
  for (size_t g = 0; g < generators_.size(); ++g) {
    std::vector<int64_t> members;
    for (int64_t i = 0; i < b; ++i) {
      if (assignment[i] == static_cast<int64_t>(g)) members.push_back(i);
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
