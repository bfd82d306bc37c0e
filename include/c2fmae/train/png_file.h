// Pictures as PNG files (libpng, formats/image_codec.h).
#pragma once
#include <torch/types.h>

#include <string>

namespace c2fmae::train {

/// Writes `picture` ([H, W, 3] uint8 RGB, as train/mask_pictures.h makes them) to `path` as
/// a PNG, atomically (core/atomic_file.h). Throws std::runtime_error naming the path and the
/// OS reason when the file cannot be written.
void write_png(const std::string& path, const torch::Tensor& picture);

}  // namespace c2fmae::train
