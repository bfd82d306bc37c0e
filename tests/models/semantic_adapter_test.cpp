#include "c2fmae/models/semantic_adapter.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(SemanticAdapter, QuarterResolutionClassEmbeddingWithIgnore) {
  testing::seed(7);
  SemanticAdapter a(SemanticAdapterOptions(5, 16, 24).class_dim(8));
  // A 32 px image: the label-resolution map is 8 x 8, a patch 4 x 4 of its pixels.
  auto sem = torch::randint(0, 5, {2, 8, 8});
  sem.index_put_({0, torch::indexing::Slice(0, 4), torch::indexing::Slice(0, 4)}, 255);
  auto t = a(sem);
  ASSERT_EQ(t.sizes(), (torch::IntArrayRef{2, 4, 24}));
  EXPECT_EQ(a->class_embed->weight.size(0), 6);            // 5 classes + "unknown" for 255
  EXPECT_TRUE(torch::equal(a(sem.to(torch::kUInt8)), t));  // any integer dtype
  // The ignore region maps to the unknown embedding, and classes change tokens.
  auto flipped = sem.clone();
  flipped.index_put_({1, 0, 0}, (sem[1][0][0].item<int64_t>() + 1) % 5);
  EXPECT_FALSE(torch::equal(a(flipped), t));
  EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
}

}  // namespace
}  // namespace c2fmae::models
