#include "c2fmae/core/patchify.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"

namespace c2fmae {

torch::Tensor patchify(const torch::Tensor& images, int64_t patch) {
  TORCH_CHECK(images.dim() == 4, "patchify: expected [B, C, H, W], but got ", images.sizes());
  const int64_t b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  TORCH_CHECK(h % patch == 0 && w % patch == 0, "patchify: image ", h, "x", w,
              " is not a multiple of the patch size ", patch);
  const int64_t gh = h / patch, gw = w / patch;
  return images.reshape({b, c, gh, patch, gw, patch})
      .permute({0, 2, 4, 3, 5, 1})
      .reshape({b, gh * gw, patch * patch * c});
}

torch::Tensor unpatchify(const torch::Tensor& patches, int64_t patch, int64_t grid_h,
                         int64_t grid_w) {
  TORCH_CHECK(patches.dim() == 3 && patches.size(1) == grid_h * grid_w &&
                  patches.size(2) % (patch * patch) == 0,
              "unpatchify: expected [B, ", grid_h * grid_w, ", p*p*C], but got ", patches.sizes());
  const int64_t b = patches.size(0), c = patches.size(2) / (patch * patch);
  return patches.reshape({b, grid_h, grid_w, patch, patch, c})
      .permute({0, 5, 1, 3, 2, 4})
      .reshape({b, c, grid_h * patch, grid_w * patch});
}

torch::Tensor patchify_map(const torch::Tensor& map, int64_t patch) {
  TORCH_CHECK(map.dim() == 3, "patchify_map: expected [B, H, W], but got ", map.sizes());
  return patchify(map.unsqueeze(1), patch);
}

torch::Tensor downsample_labels(const torch::Tensor& map, int64_t factor) {
  TORCH_CHECK(map.dim() == 3, "downsample_labels: expected [B, H, W], but got ", map.sizes());
  TORCH_CHECK(map.size(1) % factor == 0 && map.size(2) % factor == 0,
              "downsample_labels: ", map.size(1), "x", map.size(2), " is not a multiple of ",
              factor);
  using torch::indexing::Slice;
  return map.index(
      {Slice(), Slice(0, torch::indexing::None, factor), Slice(0, torch::indexing::None, factor)});
}

torch::Tensor label_resolution(const torch::Tensor& map, int64_t img_size) {
  TORCH_CHECK(map.dim() == 3, "label map: expected [B, H, W], but got ", map.sizes());
  if (map.size(1) == img_size && map.size(2) == img_size) {
    return downsample_labels(map, kLabelDownsample);
  }
  TORCH_CHECK(
      map.size(1) * kLabelDownsample == img_size && map.size(2) * kLabelDownsample == img_size,
      "label map: expected ", img_size, "x", img_size, " or ", img_size / kLabelDownsample, "x",
      img_size / kLabelDownsample, " (the label resolution), but got ", map.size(1), "x",
      map.size(2));
  return map;
}

}  // namespace c2fmae
