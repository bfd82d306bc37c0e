#include "c2fmae/train/mask_pictures.h"

#include <torch/torch.h>

#include <cmath>

#include "c2fmae/data/batch_loader.h"

namespace c2fmae::train {
namespace {

torch::Tensor colour(const uint8_t (&rgb)[3]) {
  return torch::tensor({rgb[0], rgb[1], rgb[2]}, torch::kUInt8);
}

/// Palette colour (label mod size) per pixel: [H, W] int64 -> [H, W, 3] uint8.
torch::Tensor palette_colours(const torch::Tensor& labels) {
  const auto& palette = label_palette();
  auto table = torch::empty({static_cast<int64_t>(palette.size()), 3}, torch::kUInt8);
  for (size_t k = 0; k < palette.size(); ++k) {
    for (int64_t c = 0; c < 3; ++c) table[k][c] = palette[k][c];
  }
  auto index = labels.to(torch::kLong).cpu().remainder(table.size(0));
  return table.index_select(0, index.flatten()).view({labels.size(0), labels.size(1), 3});
}

}  // namespace

const std::vector<std::array<uint8_t, 3>>& label_palette() {
  static const std::vector<std::array<uint8_t, 3>> palette = {
      {31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
      {140, 86, 75},   {227, 119, 194}, {188, 189, 34},  {23, 190, 207},  {174, 199, 232},
      {255, 187, 120}, {152, 223, 138}, {255, 152, 150}, {197, 176, 213}, {196, 156, 148},
      {247, 182, 210}, {219, 219, 141}, {158, 218, 229}};
  return palette;
}

torch::Tensor semantic_colours(const torch::Tensor& map) {
  TORCH_CHECK(map.dim() == 2, "semantic_colours: expected a map [H, W], but got ", map.sizes());
  auto ignored = (map.cpu() == kIgnoreClass).unsqueeze(-1);
  return torch::where(ignored, colour(kIgnoreColour), palette_colours(map));
}

torch::Tensor instance_colours(const torch::Tensor& map) {
  TORCH_CHECK(map.dim() == 2, "instance_colours: expected a map [H, W], but got ", map.sizes());
  auto none = (map.cpu() == kNoInstance).unsqueeze(-1);
  return torch::where(none, colour(kBackgroundColour), palette_colours(map.cpu() - 1));
}

torch::Tensor rgb_pixels(const torch::Tensor& rgb) {
  TORCH_CHECK(rgb.dim() == 3 && rgb.size(0) == 3,
              "rgb_pixels: expected an image [3, H, W], but got ", rgb.sizes());
  auto mean =
      torch::tensor({data::kImageNetMean[0], data::kImageNetMean[1], data::kImageNetMean[2]})
          .view({3, 1, 1});
  auto stdev = torch::tensor({data::kImageNetStd[0], data::kImageNetStd[1], data::kImageNetStd[2]})
                   .view({3, 1, 1});
  auto pixels = (rgb.cpu().to(torch::kDouble) * stdev + mean) * 255.0;
  return pixels.round().clamp(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
}

torch::Tensor resize_nearest(const torch::Tensor& picture, int64_t size) {
  TORCH_CHECK(picture.dim() == 3 && size > 0,
              "resize_nearest: expected [h, w, C] and a size, but got ", picture.sizes(), " and ",
              size);
  // Source pixel of target pixel i: floor(i * h / size), as OpenCV's INTER_NEAREST.
  auto rows = (torch::arange(size, torch::kLong) * picture.size(0)).div(size, "floor");
  auto cols = (torch::arange(size, torch::kLong) * picture.size(1)).div(size, "floor");
  return picture.index_select(0, rows).index_select(1, cols).contiguous();
}

torch::Tensor masked_panel(const torch::Tensor& picture, const torch::Tensor& mask) {
  const int64_t l = mask.numel();
  const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(l))));
  TORCH_CHECK(mask.dim() == 1 && grid * grid == l,
              "masked_panel: expected a mask [L] of a square grid, but got ", mask.sizes());
  TORCH_CHECK(picture.dim() == 3 && picture.size(0) % grid == 0 && picture.size(1) % grid == 0,
              "masked_panel: picture ", picture.sizes(), " does not split into ", grid, " x ", grid,
              " patches");
  const int64_t ph = picture.size(0) / grid, pw = picture.size(1) / grid;
  // Per pixel: its patch's mask, and whether it lies on the patch's top or left edge.
  auto masked = mask.cpu().to(torch::kBool).view({grid, 1, grid, 1}).expand({grid, ph, grid, pw});
  masked = masked.reshape({picture.size(0), picture.size(1), 1});
  auto y = torch::arange(picture.size(0)).remainder(ph).view({-1, 1, 1});
  auto x = torch::arange(picture.size(1)).remainder(pw).view({1, -1, 1});
  auto edge = (y == 0).logical_or(x == 0);
  auto grey = torch::where(edge, colour(kGridColour), colour(kMaskedColour));
  return torch::where(masked, grey, picture.cpu()).contiguous();
}

torch::Tensor mask_picture(const Batch& batch, int64_t index,
                           const std::vector<Modality>& modalities, int64_t size) {
  TORCH_CHECK(batch.rgb.defined() && batch.semantic.defined() && batch.instance.defined() &&
                  batch.mask.defined(),
              "mask_picture: the batch needs rgb, semantic, instance and mask");
  TORCH_CHECK(
      batch.mask.dim() == 3 && batch.mask.size(1) == static_cast<int64_t>(modalities.size()),
      "mask_picture: mask ", batch.mask.sizes(), " does not match ", modalities.size(),
      " modalities");
  TORCH_CHECK(index >= 0 && index < batch.size(), "mask_picture: sample ", index, " of ",
              batch.size());
  auto content = [&](Modality m) {
    switch (m) {
      case Modality::kSemantic:
        return resize_nearest(semantic_colours(batch.semantic[index]), size);
      case Modality::kInstance:
        return resize_nearest(instance_colours(batch.instance[index]), size);
      case Modality::kRgb:
        break;
    }
    return resize_nearest(rgb_pixels(batch.rgb[index]), size);
  };
  std::vector<torch::Tensor> panels = {content(Modality::kRgb), content(Modality::kSemantic),
                                       content(Modality::kInstance)};
  for (size_t j = 0; j < modalities.size(); ++j) {
    panels.push_back(masked_panel(content(modalities[j]), batch.mask[index][j]));
  }
  return torch::cat(panels, 1).contiguous();
}

}  // namespace c2fmae::train
