#include "c2fmae/masking/mask_generator.h"

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

MaskInputs MaskInputs::select(const torch::Tensor& index) const {
  MaskInputs out;
  out.batch = batch.select(index);
  if (affinity.defined()) out.affinity = affinity.index_select(0, index.to(affinity.device()));
  if (parts.defined()) out.parts = parts.index_select(0, index.to(parts.device()));
  out.progress = progress;
  return out;
}

}  // namespace c2fmae::masking
