#include "c2fmae/pseudolabel/image_geometry.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "c2fmae/core/usage_error.h"

namespace c2fmae::pseudolabel {
namespace {

namespace F = torch::nn::functional;

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

torch::Tensor bilinear(const torch::Tensor& x, int64_t height, int64_t width, bool antialias) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{height, width})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(antialias));
}

}  // namespace

ImageGeometry plan_geometry(int64_t height, int64_t width, const SegmenterInput& input) {
  ImageGeometry g;
  g.height = g.resized_height = height;
  g.width = g.resized_width = width;
  if (input.short_side > 0) {
    // detectron2's ResizeShortestEdge.get_output_shape, in double as Python computes it.
    const double scale =
        static_cast<double>(input.short_side) / static_cast<double>(std::min(height, width));
    double h = static_cast<double>(height) * scale, w = static_cast<double>(width) * scale;
    if (input.max_side > 0 && std::max(h, w) > static_cast<double>(input.max_side)) {
      const double s = static_cast<double>(input.max_side) / std::max(h, w);
      h *= s;
      w *= s;
    }
    g.resized_height = std::max<int64_t>(1, static_cast<int64_t>(h + 0.5));
    g.resized_width = std::max<int64_t>(1, static_cast<int64_t>(w + 0.5));
  }
  if (input.canvas) {
    g.padded_height = (*input.canvas)[0];
    g.padded_width = (*input.canvas)[1];
    if (g.resized_height > g.padded_height || g.resized_width > g.padded_width) {
      throw SegmenterError(with_hint(
          "an image of " + std::to_string(width) + "x" + std::to_string(height) + " resized to " +
              std::to_string(g.resized_width) + "x" + std::to_string(g.resized_height) +
              " does not fit the model's canvas of " + std::to_string(g.padded_width) + "x" +
              std::to_string(g.padded_height),
          "export the model with a canvas of at least max_side x max_side, or one canvas per "
          "orientation"));
    }
  } else {
    g.padded_height = round_up(g.resized_height, input.size_divisibility);
    g.padded_width = round_up(g.resized_width, input.size_divisibility);
  }
  return g;
}

void fill_padding(const SegmenterInput& input, torch::Tensor slot) {
  for (int64_t c = 0; c < 3; ++c) slot[c].fill_(input.pad_value[static_cast<size_t>(c)]);
}

void fill_model_input(const torch::Tensor& rgb, const ImageGeometry& geometry,
                      const SegmenterInput& input, torch::Tensor slot) {
  auto x = rgb.to(slot.device()).permute({2, 0, 1}).to(torch::kFloat).unsqueeze(0);
  if (geometry.resized()) {
    // PIL resizes uint8 images: whole values, clamped.
    x = bilinear(x, geometry.resized_height, geometry.resized_width, true).round().clamp(0, 255);
  }
  fill_padding(input, slot);
  slot.narrow(1, 0, geometry.resized_height)
      .narrow(2, 0, geometry.resized_width)
      .copy_(x.squeeze(0));
}

std::array<int64_t, 2> post_size(const ImageGeometry& g, int64_t max_pixels) {
  const int64_t pixels = g.height * g.width;
  if (max_pixels <= 0 || pixels <= max_pixels) return {g.height, g.width};
  const double s = std::sqrt(static_cast<double>(max_pixels) / static_cast<double>(pixels));
  return {std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(g.height) * s)),
          std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(g.width) * s))};
}

torch::Tensor to_image_size(const torch::Tensor& dense, const ImageGeometry& g,
                            int64_t max_pixels) {
  auto m = bilinear(dense.to(torch::kFloat).unsqueeze(0), g.padded_height, g.padded_width, false);
  m = m.narrow(2, 0, g.resized_height).narrow(3, 0, g.resized_width);
  const auto [h, w] = post_size(g, max_pixels);
  if (h != g.resized_height || w != g.resized_width) m = bilinear(m, h, w, false);
  return m.squeeze(0);
}

}  // namespace c2fmae::pseudolabel
