// The label a patch "belongs to": the most frequent label among its pixels.
#pragma once
#include <torch/types.h>

namespace c2fmae::masking {

/// map: [B, H, W] int64 -> [B, L] int64, L = (H/p) * (W/p) row-major. Ties go to the
/// smallest label.
torch::Tensor patch_majority(const torch::Tensor& map, int64_t patch);

/// The region id of every patch of a grid x grid token layout, as the guided generators
/// use it: map [B, H, W] of any integer dtype (e.g. a uint8 instance map) at any
/// resolution whose side is a multiple of the grid (full resolution, or the 1/4 resolution
/// the adapters read) -> [B, grid * grid] int64 majority label per patch
/// (patch_majority with H / grid pixels per patch side), on the CPU.
torch::Tensor patch_regions(const torch::Tensor& map, int64_t grid);

}  // namespace c2fmae::masking
