// Helpers of the tests that run our Python tools (tools/*.py) as a user would.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "c2fmae/formats/image_codec.h"
#include "test_helpers.h"

namespace c2fmae::testing {

/// A new, empty folder `name` under the test temp dir (emptied if it exists).
/// Whether C2FMAE_PYTHON_BIN names an executable (a path, or a name found on PATH).
inline bool python_present() {
  const std::string bin = C2FMAE_PYTHON_BIN;
  if (bin.empty()) return false;
  if (bin.find('/') != std::string::npos) return ::access(bin.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((std::filesystem::path(dir) / bin).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

/// `s` single-quoted for the shell.
inline std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The PNG at `path`, decoded with the project's libpng decoder (alpha dropped).
inline formats::DecodedImage read_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  EXPECT_EQ(formats::sniff_format(bytes.data(), bytes.size()), formats::ImageFormat::kPng) << path;
  return formats::decode_image(bytes.data(), bytes.size());
}

/// Fraction of pixels that are not white: something was drawn.
inline double ink(const formats::DecodedImage& image) {
  int64_t dark = 0;
  for (size_t i = 0; i + 2 < image.pixels.size(); i += 3) {
    if (image.pixels[i] < 250 || image.pixels[i + 1] < 250 || image.pixels[i + 2] < 250) ++dark;
  }
  return static_cast<double>(dark) / (static_cast<double>(image.width) * image.height);
}

}  // namespace c2fmae::testing
