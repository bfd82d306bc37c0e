#include "c2fmae/train/png_file.h"

#include <torch/torch.h>

#include <stdexcept>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/formats/image_codec.h"

namespace c2fmae::train {

void write_png(const std::string& path, const torch::Tensor& picture) {
  TORCH_CHECK(picture.dim() == 3 && picture.size(2) == 3 && picture.scalar_type() == torch::kUInt8,
              "write_png: expected an RGB picture [H, W, 3] uint8, but got ", picture.sizes(), " ",
              picture.scalar_type());
  // Encoded in memory first, so that the atomic writer reports the OS reason of a failed
  // write.
  const auto rgb = picture.cpu().contiguous();
  const auto png = formats::encode_png_rgb(rgb.data_ptr<uint8_t>(), static_cast<int>(rgb.size(1)),
                                           static_cast<int>(rgb.size(0)));
  // On POSIX a text write is byte for byte: the writer's error handling serves binary too.
  write_text_atomically(path, std::string(png.begin(), png.end()));
}

}  // namespace c2fmae::train
