#include "c2fmae/train/mask_pictures.h"

#include "c2fmae/data/batch_loader.h"
#include "test_helpers.h"

namespace c2fmae::train {
namespace {

torch::Tensor rgb_of(const std::array<uint8_t, 3>& c) {
  return torch::tensor({c[0], c[1], c[2]}, torch::kUInt8);
}
torch::Tensor rgb_of(const uint8_t (&c)[3]) {
  return torch::tensor({c[0], c[1], c[2]}, torch::kUInt8);
}

TEST(MaskPictures, LabelsGetPaletteColoursWithIgnoreAndBackgroundApart) {
  const auto& palette = label_palette();
  ASSERT_EQ(palette.size(), 18u);
  auto sem =
      semantic_colours(torch::tensor(std::vector<int64_t>{0, 19, kIgnoreClass}).view({1, 3}));
  ASSERT_EQ(sem.sizes(), (std::vector<int64_t>{1, 3, 3}));
  EXPECT_TRUE(sem[0][0].equal(rgb_of(palette[0])));
  EXPECT_TRUE(sem[0][1].equal(rgb_of(palette[1])));
  EXPECT_TRUE(sem[0][2].equal(rgb_of(kIgnoreColour)));
  auto ins =
      instance_colours(torch::tensor(std::vector<int64_t>{kNoInstance, 1, 65535}).view({1, 3}));
  EXPECT_TRUE(ins[0][0].equal(rgb_of(kBackgroundColour)));
  EXPECT_TRUE(ins[0][1].equal(rgb_of(palette[0])));
  EXPECT_TRUE(ins[0][2].equal(rgb_of(palette[65534 % 18])));
  // No palette colour can be taken for an ignored, background or masked pixel.
  for (const auto& c : palette) {
    for (const auto* grey : {kIgnoreColour, kBackgroundColour, kMaskedColour, kGridColour}) {
      EXPECT_FALSE(c[0] == grey[0] && c[1] == grey[1] && c[2] == grey[2]);
    }
  }
}

TEST(MaskPictures, RgbPixelsUndoTheCollateNormalisation) {
  testing::seed(1);
  data::Sample s;
  s.rgb = torch::randint(0, 256, {3, 5, 7}, torch::kLong).to(torch::kUInt8);
  s.semantic = torch::zeros({5, 7}, torch::kLong);
  s.instance = torch::zeros({5, 7}, torch::kLong);
  auto batch = data::collate({s});
  auto pixels = rgb_pixels(batch.rgb[0]);
  EXPECT_EQ(pixels.sizes(), (std::vector<int64_t>{5, 7, 3}));
  EXPECT_TRUE(pixels.equal(s.rgb.permute({1, 2, 0})));
}

TEST(MaskPictures, ResizeNearestRepeatsPixels) {
  auto small = torch::tensor({1, 2, 3, 4}, torch::kUInt8).view({2, 2, 1});
  auto big = resize_nearest(small, 4);
  auto expected = torch::tensor({1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, torch::kUInt8)
                      .view({4, 4, 1});
  EXPECT_TRUE(big.equal(expected));
}

TEST(MaskPictures, MaskedPatchesAreGreyWithGridLinesAndVisibleOnesUnchanged) {
  auto picture = torch::full({8, 8, 3}, 7, torch::kUInt8);
  auto mask = torch::tensor({true, false, false, true});  // grid 2, patches of 4 x 4
  auto panel = masked_panel(picture, mask);
  ASSERT_EQ(panel.sizes(), picture.sizes());
  auto grid = rgb_of(kGridColour), grey = rgb_of(kMaskedColour);
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 8; ++x) {
      const bool masked = (y < 4) == (x < 4);
      const bool edge = y % 4 == 0 || x % 4 == 0;
      const auto expected = !masked ? picture[y][x] : edge ? grid : grey;
      EXPECT_TRUE(panel[y][x].equal(expected)) << y << "," << x;
    }
  }
}

TEST(MaskPictures, ARowHoldsImageMapsAndOnePanelPerModality) {
  testing::seed(2);
  auto batch = testing::random_maps(2, 16, 4, 3);
  const std::vector<Modality> modalities = {Modality::kInstance, Modality::kRgb};
  batch.mask = torch::zeros({2, 2, 16}, torch::kBool);
  batch.mask[1][1][5] = true;
  // Label maps at a quarter of the image resolution are scaled up to the panel size.
  batch.semantic = batch.semantic.narrow(1, 0, 4).narrow(2, 0, 4).contiguous();
  auto row = mask_picture(batch, 1, modalities, 16);
  ASSERT_EQ(row.sizes(), (std::vector<int64_t>{16, 5 * 16, 3}));
  auto panel = [&](int64_t k) { return row.narrow(1, k * 16, 16); };
  EXPECT_TRUE(panel(0).equal(rgb_pixels(batch.rgb[1])));
  EXPECT_TRUE(panel(1).equal(resize_nearest(semantic_colours(batch.semantic[1]), 16)));
  EXPECT_TRUE(panel(2).equal(instance_colours(batch.instance[1])));
  EXPECT_TRUE(panel(3).equal(panel(2)));  // instance modality: all visible
  EXPECT_TRUE(panel(4).equal(masked_panel(panel(0), batch.mask[1][1])));
  EXPECT_FALSE(panel(4).equal(panel(0)));  // patch 5 is masked
}

}  // namespace
}  // namespace c2fmae::train
