#include "c2fmae/data/folder_writer.h"

#include <torch/torch.h>

#include <filesystem>

#include "c2fmae/core/atomic_file.h"
#include "c2fmae/formats/image_codec.h"

namespace c2fmae::data {
namespace fs = std::filesystem;

void write_folder_sample(const std::string& root, const std::string& split,
                         const std::string& class_name, const std::string& name,
                         const Sample& sample, int jpeg_quality) {
  const auto h = static_cast<int>(sample.rgb.size(1)), w = static_cast<int>(sample.rgb.size(2));
  auto file = [&](const char* modality, const std::string& ext) {
    auto d = fs::path(root) / split / modality / class_name;
    fs::create_directories(d);
    return (d / (name + ext)).string();
  };
  auto write = [](const std::string& path, const std::vector<uint8_t>& bytes) {
    // On POSIX a text write is byte for byte; the writer names the path and the OS reason.
    write_text_atomically(path, std::string(bytes.begin(), bytes.end()));
  };
  const auto hwc = sample.rgb.permute({1, 2, 0}).contiguous();
  const auto sem = sample.semantic.clamp(0, 255).to(torch::kUInt8).contiguous();
  const auto ins = sample.instance.clamp(0, 65535).to(torch::kInt32).contiguous();
  std::vector<uint16_t> ins16(ins.data_ptr<int32_t>(), ins.data_ptr<int32_t>() + ins.numel());
  write(file("rgb", ".JPEG"), formats::encode_jpeg(hwc.data_ptr<uint8_t>(), w, h, jpeg_quality));
  write(file("semseg", ".png"), formats::encode_png_gray(sem.data_ptr<uint8_t>(), w, h, 8));
  write(file("instance", ".png"), formats::encode_png_gray(ins16.data(), w, h, 16));
}

}  // namespace c2fmae::data
