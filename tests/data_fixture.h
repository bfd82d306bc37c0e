// Folder datasets the data tests write for themselves (no download, no OpenCV): images of
// varying size holding one bright rectangle on a grey ground, with semantic and instance
// PNGs that mark exactly that rectangle, so any crop of the three must still line up.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "c2fmae/formats/image_codec.h"
#include "test_helpers.h"

namespace c2fmae::testing {

/// The whole content of a file as bytes (empty if it cannot be read).
inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

/// `size` bytes after a magic number, from a small LCG (file contents need not decode).
inline std::vector<uint8_t> fake_file(const std::vector<uint8_t>& magic, size_t size,
                                      uint32_t seed) {
  std::vector<uint8_t> bytes = magic;
  uint32_t state = seed * 2654435761u + 1;
  while (bytes.size() < size) {
    state = state * 1664525u + 1013904223u;
    bytes.push_back(static_cast<uint8_t>(state >> 24));
  }
  bytes.resize(std::max(size, magic.size()));
  return bytes;
}
inline const std::vector<uint8_t> kJpegMagic = {0xFF, 0xD8, 0xFF, 0xE0};
inline const std::vector<uint8_t> kPngMagic = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

/// What write_fixture_split wrote for one sample.
struct FixtureSample {
  std::string rgb, semantic, instance;  ///< paths ("" when not written)
  int64_t label = 0;
  int width = 0, height = 0;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  ///< the rectangle, [x0, x1) x [y0, y1)
};

/// Semantic id and instance id of the rectangle of a sample of class `label`.
inline int64_t fixture_class_id(int64_t label) { return 1 + label; }
inline int64_t fixture_instance_id(int64_t label) { return 300 + label; }

inline void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

/// Writes `per_class` samples of each of `classes` classes under root/<split> in MultiMAE's
/// layout (masks = true) or as an ImageFolder (masks = false). Returns them in the order the
/// dataset lists them (class, then name).
inline std::vector<FixtureSample> write_fixture_split(const std::string& root,
                                                      const std::string& split, int classes,
                                                      int per_class, bool masks = true) {
  namespace fs = std::filesystem;
  std::vector<FixtureSample> out;
  for (int c = 0; c < classes; ++c) {
    const std::string cls = "class_" + std::string(1, static_cast<char>('a' + c));
    for (int k = 0; k < per_class; ++k) {
      FixtureSample s;
      s.label = c;
      s.width = 72 + 8 * ((c + k) % 3);
      s.height = 56 + 4 * (k % 4);
      s.x0 = 10 + 3 * k, s.y0 = 8 + 2 * c, s.x1 = s.x0 + 30, s.y1 = s.y0 + 24;
      std::vector<uint8_t> rgb(static_cast<size_t>(s.width) * s.height * 3, 90);
      std::vector<uint8_t> sem(static_cast<size_t>(s.width) * s.height, 0);
      std::vector<uint16_t> ins(static_cast<size_t>(s.width) * s.height, 0);
      for (int y = s.y0; y < s.y1; ++y) {
        for (int x = s.x0; x < s.x1; ++x) {
          const size_t p = static_cast<size_t>(y) * s.width + x;
          rgb[p * 3] = 250, rgb[p * 3 + 1] = 240, rgb[p * 3 + 2] = 230;
          sem[p] = static_cast<uint8_t>(fixture_class_id(c));
          ins[p] = static_cast<uint16_t>(fixture_instance_id(c));
        }
      }
      const std::string name = "img_" + std::to_string(k);
      const auto base = fs::path(root) / split;
      const auto rgb_path =
          masks ? base / "rgb" / cls / (name + ".jpg") : base / cls / (name + ".jpg");
      write_file(rgb_path, formats::encode_jpeg(rgb.data(), s.width, s.height, 95));
      s.rgb = rgb_path.string();
      if (masks) {
        const auto sem_path = base / "semseg" / cls / (name + ".png");
        const auto ins_path = base / "instance" / cls / (name + ".png");
        write_file(sem_path, formats::encode_png_gray(sem.data(), s.width, s.height, 8));
        write_file(ins_path, formats::encode_png_gray(ins.data(), s.width, s.height, 16));
        s.semantic = sem_path.string(), s.instance = ins_path.string();
      }
      out.push_back(s);
    }
  }
  return out;
}

/// A fresh folder per test (name and pid, so parallel ctest runs do not meet), removed after.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("c2fmae_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& sub) const { return (path_ / sub).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

/// A whole image file decoded (formats::decode_image); fails the test if it cannot be read.
inline formats::DecodedImage read_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  return formats::decode_image(bytes.data(), bytes.size());
}

/// A fresh folder under the test temp dir.
}  // namespace c2fmae::testing
