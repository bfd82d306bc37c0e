#include "c2fmae/train/png_file.h"

#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <stdexcept>

#include "c2fmae/core/atomic_file.h"

namespace c2fmae::train {

void write_png(const std::string& path, const torch::Tensor& picture) {
  TORCH_CHECK(picture.dim() == 3 && picture.size(2) == 3 && picture.scalar_type() == torch::kUInt8,
              "write_png: expected an RGB picture [H, W, 3] uint8, but got ", picture.sizes(), " ",
              picture.scalar_type());
  // OpenCV wants BGR. Encoding to memory first lets the atomic writer report the OS reason
  // of a failed write (cv::imwrite only says false).
  auto bgr = picture.cpu().flip(2).contiguous();
  cv::Mat image(static_cast<int>(bgr.size(0)), static_cast<int>(bgr.size(1)), CV_8UC3,
                bgr.data_ptr<uint8_t>());
  std::vector<uchar> png;
  if (!cv::imencode(".png", image, png)) {
    throw std::runtime_error("cannot encode " + path + " as PNG");
  }
  // On POSIX a text write is byte for byte: the writer's error handling serves binary too.
  write_text_atomically(path, std::string(png.begin(), png.end()));
}

}  // namespace c2fmae::train
