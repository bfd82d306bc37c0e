// Canonical instance ids, computed in the loader (on its threads, on the CPU).
//
// Instance ids in the data are arbitrary 16-bit values (DESIGN.md §1). The model and the loss
// need them permutation-invariant and bounded, so each sample's instances are renumbered
// 1..K by decreasing area (ties: first in raster order), K <= max_instances, in a uint8 map:
// a fixed-size id space lets the instance loss reduce over fixed-size tensors with no device
// sync. Background stays kNoInstance (0); instances past max_instances (the smallest) become
// kInstanceOverflow, which the instance loss ignores and the instance adapter embeds as
// background.
#pragma once
#include <torch/types.h>

#include <cstdint>

namespace c2fmae::data {

/// ids: [H, W] or [B, H, W] integer ids on the CPU -> the same shape in uint8, canonical
/// per sample as above. max_instances in 1..kMaxCanonicalInstances.
torch::Tensor canonical_instance_ids(const torch::Tensor& ids, int64_t max_instances);

}  // namespace c2fmae::data
