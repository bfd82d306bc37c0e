// The model file's metadata and an image's geometry through the model.
#include "c2fmae/pseudolabel/segmenter.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "c2fmae/pseudolabel/image_geometry.h"

namespace c2fmae::pseudolabel {
namespace {

const std::string kValid =
    R"({"format": 1, "kind": "mask_classification", "num_classes": 3,
        "class_names": ["person", "sky", "road"], "thing_ids": [0],
        "input": {"short_side": 800, "max_side": 1333, "size_divisibility": 32,
                  "pad_value": [123.675, 116.28, 103.53], "canvas": null, "batch": null},
        "defaults": {"object_mask_threshold": 0.7}, "source": "random:mask2former",
        "licence": "CC BY-NC 4.0"})";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(Segmenter, ReadsTheMetadataAndItsDefaults) {
  const auto info = parse_segmenter_info(kValid, "m.pt");
  EXPECT_EQ(info.kind, SegmenterKind::kMaskClassification);
  EXPECT_EQ(info.num_classes, 3);
  EXPECT_EQ(info.class_names[1], "sky");
  EXPECT_TRUE(info.is_thing(0));
  EXPECT_FALSE(info.is_thing(1));
  EXPECT_EQ(info.input.short_side, 800);
  EXPECT_FALSE(info.input.canvas.has_value());
  EXPECT_DOUBLE_EQ(info.input.pad_value[2], 103.53);
  EXPECT_DOUBLE_EQ(info.defaults.object_mask_threshold, 0.7);
  EXPECT_DOUBLE_EQ(info.defaults.overlap_threshold, 0.8);  // not given: detectron2's
  EXPECT_EQ(info.licence, "CC BY-NC 4.0");
}

TEST(Segmenter, BadMetadataIsRefusedNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {replaced(kValid, "\"mask_classification\"", "\"panoptic\""), "kind 'panoptic'"},
      {replaced(kValid, "\"format\": 1", "\"format\": 2"), "format 2"},
      {replaced(kValid, "\"num_classes\": 3", "\"num_classes\": 4"), "class_names"},
      {replaced(kValid, "\"thing_ids\": [0]", "\"thing_ids\": [3]"), "thing_ids"},
      {replaced(kValid, "\"canvas\": null", "\"canvas\": [800, 1000]"), "size_divisibility"},
      {replaced(kValid, "[123.675, 116.28, 103.53]", "[1, 2]"), "pad_value"},
      {replaced(kValid, "0.7}", "1.5}"), "object_mask_threshold"},
      {replaced(kValid, "\"short_side\": 800", "\"short_side\": \"big\""), "short_side"},
      {replaced(kValid, "\"num_classes\": 3,", ""), "num_classes"},
      {"[1, 2]", "not a JSON object"},
      {"{\"format\": 1,", "JSON"},
  };
  for (const auto& [json, expected] : cases) {
    try {
      parse_segmenter_info(json, "m.pt");
      ADD_FAILURE() << "accepted: " << json;
    } catch (const SegmenterError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("m.pt"), std::string::npos) << e.what();
    }
  }
}

TEST(Segmenter, AFileThatIsNoModelIsRefused) {
  const auto dir = ::testing::TempDir();
  const auto path = dir + "/not_a_model.pt";
  {
    std::ofstream out(path);
    out << "hello";
  }
  for (const auto& p : {path, dir + "/nonesuch.pt", dir}) {
    try {
      Segmenter::load(p, torch::kCPU);
      ADD_FAILURE() << "loaded " << p;
    } catch (const SegmenterError& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("frame #"), std::string::npos) << e.what();
    }
  }
}

TEST(ImageGeometry, ResizesAsDetectronAndPadsToTheDivisibility) {
  SegmenterInput input;
  input.short_side = 800;
  input.max_side = 1333;
  input.size_divisibility = 32;
  // ImageNet's common 500x375 (w x h): short side 375 -> 800, long 1066.67 -> 1067.
  auto g = plan_geometry(375, 500, input);
  EXPECT_EQ(g.resized_height, 800);
  EXPECT_EQ(g.resized_width, 1067);
  EXPECT_EQ(g.padded_height, 800);
  EXPECT_EQ(g.padded_width, 1088);
  // A panorama: the long side caps at 1333, the short side follows (300 * 1333/2000 = 199.95).
  g = plan_geometry(300, 2000, input);
  EXPECT_EQ(g.resized_width, 1333);
  EXPECT_EQ(g.resized_height, 200);
  EXPECT_EQ(g.padded_height, 224);
  // No resize: the size as it is, padded.
  input.short_side = 0;
  g = plan_geometry(33, 47, input);
  EXPECT_FALSE(g.resized());
  EXPECT_EQ(g.padded_width, 64);
  // A fixed canvas: an image that does not fit is refused, naming both sizes.
  input.short_side = 800;
  input.canvas = std::array<int64_t, 2>{800, 1088};
  EXPECT_EQ(plan_geometry(375, 500, input).padded_width, 1088);
  try {
    plan_geometry(300, 2000, input);
    ADD_FAILURE() << "a 1333-wide image fitted a 1088-wide canvas";
  } catch (const SegmenterError& e) {
    EXPECT_NE(std::string(e.what()).find("1333x200"), std::string::npos) << e.what();
  }
}

TEST(ImageGeometry, OutputsGoBackToTheImageAndPostProcessingCapsItsSize) {
  SegmenterInput input;
  input.short_side = 8;
  input.size_divisibility = 4;
  const auto g = plan_geometry(6, 9, input);  // -> 8 x 12, padded 8 x 12
  ASSERT_EQ(g.resized_width, 12);
  auto slot = torch::empty({3, g.padded_height, g.padded_width});
  input.pad_value = {1.0, 2.0, 3.0};
  fill_model_input(torch::full({6, 9, 3}, 200, torch::kUInt8), g, input, slot);
  EXPECT_EQ(slot[0].max().item<float>(), 200.0f);  // whole values, antialiased or not
  const auto dense = torch::rand({5, 2, 3});
  EXPECT_EQ(to_image_size(dense, g).sizes(), (std::vector<int64_t>{5, 6, 9}));
  const auto capped = to_image_size(dense, g, 24);
  const auto size = post_size(g, 24);
  EXPECT_LE(size[0] * size[1], 24);
  EXPECT_EQ(capped.size(1), size[0]);
}

}  // namespace
}  // namespace c2fmae::pseudolabel
