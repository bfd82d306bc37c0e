// One image's way through a segmenter and back (docs/pseudolabels.md, "The pipeline"), as
// detectron2's DefaultPredictor and Mask2Former do it:
// 1. resize so the short side is input.short_side and the long side at most input.max_side
//    (ResizeShortestEdge.get_output_shape: sizes rounded half up), bilinear with antialiasing
//    when shrinking, rounded to whole 0..255 values as PIL's uint8 resize is;
// 2. pad with input.pad_value to the fixed canvas, or to the next multiples of
//    input.size_divisibility;
// 3. each dense output back: bilinear to the padded size, crop the resized image's part,
//    bilinear to the image's own size (sem_seg_postprocess).
#pragma once
#include <torch/types.h>

#include <cstdint>

#include "c2fmae/pseudolabel/segmenter.h"

namespace c2fmae::pseudolabel {

struct ImageGeometry {
  int64_t height = 0, width = 0;                  ///< the image's own size
  int64_t resized_height = 0, resized_width = 0;  ///< what the model sees of it
  int64_t padded_height = 0, padded_width = 0;    ///< the model's input size
  bool resized() const { return resized_height != height || resized_width != width; }
};

/// Throws SegmenterError if the resized image does not fit a fixed canvas.
ImageGeometry plan_geometry(int64_t height, int64_t width, const SegmenterInput& input);

/// rgb: [H, W, 3] uint8 (any device). Writes the resized image padded with input.pad_value
/// into `slot` ([3, padded_height, padded_width] float32 on the model's device).
void fill_model_input(const torch::Tensor& rgb, const ImageGeometry& geometry,
                      const SegmenterInput& input, torch::Tensor slot);

/// A slot of the batch that holds no image: the pad value everywhere.
void fill_padding(const SegmenterInput& input, torch::Tensor slot);

/// dense: [C, h, w] float (one image's output). Returns [C, height, width] float32: step 3.
/// If max_pixels > 0 and the image has more pixels, the result is at a smaller size of the
/// same aspect with at most max_pixels (post_size() says which).
torch::Tensor to_image_size(const torch::Tensor& dense, const ImageGeometry& geometry,
                            int64_t max_pixels = 0);

/// The size to_image_size() returns for `geometry`: (height, width), or scaled down to at most
/// max_pixels pixels.
std::array<int64_t, 2> post_size(const ImageGeometry& geometry, int64_t max_pixels);

}  // namespace c2fmae::pseudolabel
