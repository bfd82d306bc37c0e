// The mask spec the generator tests share: a 14 x 14 grid (or `grid`) of 16-pixel patches.
#pragma once
#include <cstdint>

#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::testing {

/// `modalities` = 1: RGB alone; 2: semantic and instance; 3: semantic, instance and RGB.
inline masking::MaskSpec mask_spec(int64_t modalities, int64_t visible, int64_t grid = 14) {
  masking::MaskSpec s;
  s.modalities = {Modality::kSemantic, Modality::kInstance, Modality::kRgb};
  s.modalities.resize(modalities);
  if (modalities == 1) s.modalities = {Modality::kRgb};
  s.grid = grid;
  s.patch = 16;
  s.num_visible = visible;
  return s;
}

}  // namespace c2fmae::testing
