#include "c2fmae/models/patch_embed.h"

#include "c2fmae/core/patchify.h"
#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(PatchEmbed, PatchEmbeddingIsALinearMapOfEachPatch) {
  testing::seed(6);
  PatchEmbed a(PatchEmbedOptions(8, 12));
  auto img = torch::randn({2, 3, 16, 24});
  auto t = a(img);
  ASSERT_EQ(t.sizes(), (torch::IntArrayRef{2, 6, 12}));
  // Token l depends only on patch l: equals a linear map of the patch's pixels.
  auto w = a->proj->weight.permute({0, 2, 3, 1}).reshape({12, -1});  // (row, col, channel)
  testing::expect_close(t, torch::linear(patchify(img, 8), w, a->proj->bias), 1e-5, 1e-5);
  EXPECT_THROW(a(torch::randn({2, 1, 16, 16})), c10::Error);
}

}  // namespace
}  // namespace c2fmae::models
