#ifdef C2FMAE_WITH_OPENCV
#include "c2fmae/data/folder_writer.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "c2fmae/data/synthetic_shapes.h"
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
  auto rgb = cv::imread((base / "rgb/disc/x0.JPEG").string(), cv::IMREAD_COLOR);
  auto sem = cv::imread((base / "semseg/disc/x0.png").string(), cv::IMREAD_UNCHANGED);
  auto ins = cv::imread((base / "instance/disc/x0.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(rgb.empty());
  ASSERT_EQ(sem.type(), CV_8UC1);
  ASSERT_EQ(ins.type(), CV_16UC1);
  auto sem_t = torch::from_blob(sem.data, {48, 48}, torch::kUInt8).to(torch::kLong);
  auto ins_t = torch::from_blob(ins.data, {48, 48}, torch::kUInt16).to(torch::kLong);
  EXPECT_TRUE(sem_t.equal(s.semantic));
  EXPECT_TRUE(ins_t.equal(s.instance));
}

}  // namespace
}  // namespace c2fmae::data
#endif
