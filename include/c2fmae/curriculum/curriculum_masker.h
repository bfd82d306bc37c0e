// Masks a batch by the curriculum: the batch is split between the curriculum's generators
// by this step's weights (batch_split.h), each generator masks its samples, and one mask
// [B, M, L] comes back. The weights come from the trainer's CurriculumSchedule.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/curriculum/curriculum_schedule.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::curriculum {

class CurriculumMasker {
 public:
  /// One generator per name (throws std::invalid_argument for an unregistered one).
  CurriculumMasker(const masking::MaskSpec& spec, const config::MaskingConfig& masking,
                   const std::vector<std::string>& generator_names);

  /// Mask for `inputs` with `weights` (over this masker's generators), deterministic in
  /// (seed, step) and each sample's position: [B, M, L] bool on CPU, exactly num_visible
  /// visible tokens per sample. The batch may be the slice [global_offset, global_offset +
  /// B) of a global batch of global_size samples split over processes (0: the batch is the
  /// whole global batch): generators are assigned over the global batch, so every process
  /// masks its slice as one process with the global batch would.
  torch::Tensor make_mask(const masking::MaskInputs& inputs, const GeneratorWeights& weights,
                          uint64_t seed, int64_t step, int64_t global_offset = 0,
                          int64_t global_size = 0) const;

  const masking::MaskSpec& spec() const { return spec_; }
  /// The optional inputs some generator reads; with `weights`, some generator of positive
  /// weight (what one step's masks need).
  masking::MaskNeeds needs(const GeneratorWeights* weights = nullptr) const;

 private:
  masking::MaskSpec spec_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<masking::MaskGenerator>> generators_;
};

}  // namespace c2fmae::curriculum
