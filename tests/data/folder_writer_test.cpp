#include "c2fmae/data/folder_writer.h"

#include <filesystem>

#include "c2fmae/data/synthetic_shapes.h"
#include "data_fixture.h"
#include "test_helpers.h"

namespace c2fmae::data {
namespace {

TEST(FolderWriter, WritesMultiMaeLayoutWithLosslessMasks) {
  const auto root = ::testing::TempDir() + "c2fmae_folder_writer";
  std::filesystem::remove_all(root);
  SyntheticShapes shapes(4, 0);
  auto s = shapes.get(1, {}, 48);
  write_folder_sample(root, "train", "disc", "x0", s);
  const auto base = std::filesystem::path(root) / "train";
  auto rgb = testing::read_image((base / "rgb/disc/x0.JPEG").string());
  auto sem = testing::read_image((base / "semseg/disc/x0.png").string());
  auto ins = testing::read_image((base / "instance/disc/x0.png").string());
  ASSERT_EQ(rgb.channels, 3);
  ASSERT_EQ(rgb.width, 48);
  ASSERT_EQ(sem.channels, 1);
  ASSERT_EQ(ins.channels, 1);
  auto as_tensor = [](const formats::DecodedImage& image) {
    std::vector<int64_t> v(image.pixels.begin(), image.pixels.end());
    return torch::tensor(v, torch::kLong).view({image.height, image.width});
  };
  EXPECT_TRUE(as_tensor(sem).equal(s.semantic));
  EXPECT_TRUE(as_tensor(ins).equal(s.instance));
  EXPECT_GT(s.instance.max().item<int64_t>(), 255);  // 16-bit ids kept
}

}  // namespace
}  // namespace c2fmae::data
