#include "c2fmae/formats/zip_checksums.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "test_helpers.h"

namespace c2fmae::formats {
namespace {
namespace fs = std::filesystem;

std::string archive(const std::string& dir) {
  torch::serialize::OutputArchive out;
  out.write("a", torch::arange(1000, torch::kFloat));
  out.write("b", torch::ones({64, 64}));
  const auto path = dir + "/archive.pt";
  out.save_to(path);
  return path;
}

void flip(const std::string& path, int64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(at);
  f.write(&c, 1);
}

TEST(ZipChecksums, AcceptsWhatLibTorchWroteAndNamesTheDamagedEntry) {
  const auto dir = testing::fresh_dir("c2fmae_zip_checksums");
  const auto path = archive(dir);
  EXPECT_NO_THROW(verify_zip_checksums(path));
  // A flipped bit inside the tensor "b" (its data is the largest entry, near the middle).
  const auto size = static_cast<int64_t>(fs::file_size(path));
  flip(path, size / 2);
  try {
    verify_zip_checksums(path);
    ADD_FAILURE() << "a flipped data bit passed";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("entry "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
  }
}

TEST(ZipChecksums, RefusesCutAndForeignFilesAndReportsOsFailures) {
  const auto dir = testing::fresh_dir("c2fmae_zip_checksums_bad");
  const auto path = archive(dir);
  fs::resize_file(path, fs::file_size(path) - 10);  // the end of the central directory
  EXPECT_THROW(verify_zip_checksums(path), FormatError);
  std::ofstream(dir + "/text.pt") << "not a zip archive at all";
  EXPECT_THROW(verify_zip_checksums(dir + "/text.pt"), FormatError);
  EXPECT_THROW(verify_zip_checksums(dir + "/missing.pt"), FileError);
}

}  // namespace
}  // namespace c2fmae::formats
