#include "c2fmae/data/folder_writer.h"

#include <torch/torch.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

namespace c2fmae::data {
namespace fs = std::filesystem;

void write_folder_sample(const std::string& root, const std::string& split,
                         const std::string& class_name, const std::string& name,
                         const Sample& sample, int jpeg_quality) {
  const auto h = static_cast<int>(sample.rgb.size(1)), w = static_cast<int>(sample.rgb.size(2));
  auto dir = [&](const char* modality) {
    auto d = fs::path(root) / split / modality / class_name;
    fs::create_directories(d);
    return d;
  };
  // OpenCV wants HWC BGR.
  auto bgr = sample.rgb.flip(0).permute({1, 2, 0}).contiguous();
  cv::Mat image(h, w, CV_8UC3, bgr.data_ptr<uint8_t>());
  auto sem = sample.semantic.clamp(0, 255).to(torch::kUInt8).contiguous();
  cv::Mat semantic(h, w, CV_8UC1, sem.data_ptr<uint8_t>());
  auto ins = sample.instance.clamp(0, 65535).to(torch::kInt32).contiguous();
  cv::Mat instance32(h, w, CV_32SC1, ins.data_ptr<int32_t>());
  cv::Mat instance;
  instance32.convertTo(instance, CV_16UC1);
  const auto ok = cv::imwrite((dir("rgb") / (name + ".JPEG")).string(), image,
                              {cv::IMWRITE_JPEG_QUALITY, jpeg_quality}) &&
                  cv::imwrite((dir("semseg") / (name + ".png")).string(), semantic) &&
                  cv::imwrite((dir("instance") / (name + ".png")).string(), instance);
  TORCH_CHECK(ok, "write_folder_sample: could not write sample ", name, " under ", root);
}

}  // namespace c2fmae::data
