// Images and maps <-> per-patch vectors, in MAE's layout (facebookresearch/mae,
// models_mae.patchify): patch l = row-major grid cell, vector = (row, col, channel).
#pragma once
#include <torch/types.h>

namespace c2fmae {

/// images: [B, C, H, W] -> [B, L, p*p*C], L = (H/p)*(W/p).
torch::Tensor patchify(const torch::Tensor& images, int64_t patch);

/// patches: [B, L, p*p*C] -> [B, C, h*p, w*p] for a grid of h x w patches.
torch::Tensor unpatchify(const torch::Tensor& patches, int64_t patch, int64_t grid_h,
                         int64_t grid_w);

/// Per-pixel maps: [B, H, W] -> [B, L, p*p].
torch::Tensor patchify_map(const torch::Tensor& map, int64_t patch);

/// Nearest downsampling of a label map by an integer factor, taking the top-left pixel of
/// each cell: [B, H, W] -> [B, H/f, W/f]. Labels must never be interpolated.
torch::Tensor downsample_labels(const torch::Tensor& map, int64_t factor);

/// A label map at the label resolution (1 / kLabelDownsample of the image): maps of
/// img_size pixels are downsampled, maps already at img_size / kLabelDownsample are returned
/// as they are; any other size throws.
torch::Tensor label_resolution(const torch::Tensor& map, int64_t img_size);

}  // namespace c2fmae
