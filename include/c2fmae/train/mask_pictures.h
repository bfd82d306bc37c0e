// Pictures of masked samples, for looking at what a mask generator hides: per sample one
// row of equal square panels — the RGB image, the coloured semantic map, the coloured
// instance map, then one panel per enabled modality (model order) showing that modality's
// content on its visible patches only, masked patches flat grey with a darker line along
// their top and left edges so the patch grid stays visible. Pictures are [H, W, 3] uint8 RGB
// tensors (HWC); writing them to a file is train/png_file.h's job.
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <vector>

#include "c2fmae/core/batch.h"
#include "c2fmae/core/modality.h"

namespace c2fmae::train {

/// Colour of a pixel that belongs to no instance (kNoInstance): near black.
constexpr uint8_t kBackgroundColour[3] = {32, 32, 32};
/// Colour of an ignored semantic pixel (kIgnoreClass): a light neutral grey.
constexpr uint8_t kIgnoreColour[3] = {190, 190, 190};
/// Fill of a masked patch, and of the grid lines drawn over masked patches.
constexpr uint8_t kMaskedColour[3] = {128, 128, 128};
constexpr uint8_t kGridColour[3] = {88, 88, 88};

/// The fixed palette: matplotlib's tab10 then its light tab20 partners, without their greys
/// (kept for ignored and masked pixels) — 18 colours.
const std::vector<std::array<uint8_t, 3>>& label_palette();

/// Semantic classes as colours: [H, W] int64 -> [H, W, 3] uint8; class c gets the palette's
/// colour c mod 18, kIgnoreClass kIgnoreColour.
torch::Tensor semantic_colours(const torch::Tensor& map);

/// Instance ids as colours: [H, W] int64 -> [H, W, 3] uint8; id k > 0 gets the palette's
/// colour (k - 1) mod 18, kNoInstance kBackgroundColour.
torch::Tensor instance_colours(const torch::Tensor& map);

/// A normalised image back to pixels: [3, H, W] float (ImageNet mean / std, as
/// data::collate makes it) -> [H, W, 3] uint8.
torch::Tensor rgb_pixels(const torch::Tensor& rgb);

/// `picture` ([h, w, 3] uint8) scaled to [size, size, 3] by nearest neighbour (label maps
/// may be at 1/4 of the image resolution).
torch::Tensor resize_nearest(const torch::Tensor& picture, int64_t size);

/// `picture` ([H, W, 3] uint8, H and W multiples of the grid) with its masked patches
/// (mask: [L] bool, L = grid * grid, 1 = masked) drawn flat grey with grid lines.
torch::Tensor masked_panel(const torch::Tensor& picture, const torch::Tensor& mask);

/// The row of panels of sample `index` of `batch` (rgb, semantic, instance and mask
/// [B, M, L] defined; `modalities` the mask's M axis), each panel `size` x `size`:
/// [size, (3 + M) * size, 3] uint8.
torch::Tensor mask_picture(const Batch& batch, int64_t index,
                           const std::vector<Modality>& modalities, int64_t size);

}  // namespace c2fmae::train
