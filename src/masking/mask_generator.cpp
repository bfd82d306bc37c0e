#include "c2fmae/masking/mask_generator.h"

#include "c2fmae/core/seeding.h"

namespace c2fmae::masking {

MaskSpec MaskSpec::from_config(const config::ModelConfig& model,
                               const config::MaskingConfig& masking) {
  MaskSpec spec;
  spec.modalities = model.modalities;
  spec.patch = model.patch_size;
  spec.grid = model.grid_size();
  spec.num_visible = masking.num_visible;
  spec.rgb_only_prob = masking.rgb_only_prob;
  return spec;
}

uint64_t MaskInputs::sample_seed(uint64_t seed, int64_t i) const {
  const auto& pos = batch.position;
  const auto key = pos.defined() ? static_cast<uint64_t>(pos.accessor<int64_t, 1>()[i])
                                 : static_cast<uint64_t>(i);
  return mix_seed({seed, key});
}

MaskInputs MaskInputs::select(const torch::Tensor& index) const {
  MaskInputs out;
  out.batch = batch.select(index);
  if (affinity.defined()) out.affinity = affinity.index_select(0, index.to(affinity.device()));
  out.progress = progress;
  return out;
}

}  // namespace c2fmae::masking
