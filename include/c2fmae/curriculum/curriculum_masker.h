// Applies the curriculum to a batch: weights at this step's progress, the batch split
// between the semantic, instance and random generators, one mask [B, M, L] back.
#pragma once
#include <array>
#include <memory>

#include "c2fmae/config/config.h"
#include "c2fmae/curriculum/batch_split.h"
#include "c2fmae/curriculum/curriculum_schedule.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::curriculum {

class CurriculumMasker {
 public:
  explicit CurriculumMasker(const config::Config& config);

  /// Mask for `batch` at `step` of `total_steps`, deterministic in (seed, step):
  /// [B, M, L] bool on CPU, exactly num_visible visible tokens per sample.
  torch::Tensor make_mask(const Batch& batch, int64_t step, int64_t total_steps,
                          uint64_t seed) const;

  const CurriculumSchedule& schedule() const { return schedule_; }
  const masking::MaskSpec& spec() const { return spec_; }

 private:
  masking::MaskSpec spec_;
  CurriculumSchedule schedule_;
  std::array<std::unique_ptr<masking::MaskGenerator>, 3> generators_;
};

}  // namespace c2fmae::curriculum
