#include "c2fmae/train/png_file.h"

#include <filesystem>

#include "data_fixture.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

TEST(PngFile, WritesRgbLosslesslyAndAtomically) {
  const auto dir = ::testing::TempDir() + "c2fmae_png_file";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  testing::seed(3);
  auto picture = torch::randint(0, 256, {5, 9, 3}, torch::kLong).to(torch::kUInt8);
  write_png(dir + "/a.png", picture);
  EXPECT_FALSE(testing::has_temporary(dir + "/a.png"));
  const auto image = testing::read_image(dir + "/a.png");
  ASSERT_EQ(image.height, 5);
  ASSERT_EQ(image.width, 9);
  ASSERT_EQ(image.channels, 3);
  std::vector<int64_t> v(image.pixels.begin(), image.pixels.end());
  EXPECT_TRUE(torch::tensor(v, torch::kLong).view({5, 9, 3}).equal(picture.to(torch::kLong)));
}

TEST(PngFile, AFailedWriteNamesThePathAndTheReason) {
  const auto path = ::testing::TempDir() + "c2fmae_png_missing/sub/a.png";
  try {
    write_png(path, torch::zeros({2, 2, 3}, torch::kUInt8));
    FAIL() << "expected a write error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos);
  }
  EXPECT_THROW(write_png(path, torch::zeros({2, 2}, torch::kUInt8)), c10::Error);
}

}  // namespace
}  // namespace c2fmae::train
