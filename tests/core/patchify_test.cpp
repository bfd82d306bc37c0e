#include "c2fmae/core/patchify.h"

#include "test_helpers.h"

namespace c2fmae {
namespace {

TEST(Patchify, RoundTripAndLayout) {
  testing::seed();
  auto img = torch::randn({2, 3, 8, 12});
  auto p = patchify(img, 4);
  ASSERT_EQ(p.sizes(), (torch::IntArrayRef{2, 6, 48}));
  // Patch 1 = grid row 0, col 1; its first vector entries are pixel (0, 4) channels 0..2.
  EXPECT_EQ(p[0][1][0].item<float>(), img[0][0][0][4].item<float>());
  EXPECT_EQ(p[0][1][2].item<float>(), img[0][2][0][4].item<float>());
  EXPECT_EQ(p[1][5][3].item<float>(), img[1][0][4][9].item<float>());
  EXPECT_TRUE(unpatchify(p, 4, 2, 3).equal(img));
  EXPECT_THROW(patchify(img, 5), c10::Error);
}

TEST(Patchify, MapsAndLabelDownsampling) {
  auto map = torch::arange(2 * 8 * 8).view({2, 8, 8});
  auto p = patchify_map(map, 4);
  EXPECT_EQ(p.sizes(), (torch::IntArrayRef{2, 4, 16}));
  EXPECT_EQ(p[0][3][0].item<int64_t>(), map[0][4][4].item<int64_t>());
  auto d = downsample_labels(map, 4);
  EXPECT_EQ(d.sizes(), (torch::IntArrayRef{2, 2, 2}));
  EXPECT_EQ(d[1][1][0].item<int64_t>(), map[1][4][0].item<int64_t>());
}

}  // namespace
}  // namespace c2fmae
