#include "c2fmae/models/semantic_adapter.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(SemanticAdapter, QuarterResolutionClassEmbeddingWithIgnore) {
  testing::seed(7);
  SemanticAdapter a(SemanticAdapterOptions(5, 16, 24).class_dim(8));
  auto sem = torch::randint(0, 5, {2, 32, 32});
  sem.index_put_({0, torch::indexing::Slice(0, 16), torch::indexing::Slice(0, 16)}, 255);
  auto t = a(sem);
  ASSERT_EQ(t.sizes(), (torch::IntArrayRef{2, 4, 24}));
  EXPECT_EQ(a->class_embed->weight.size(0), 6);  // 5 classes + "unknown" for 255
  // Only the 1/4-resolution samples (top-left pixel of each 4x4 cell) are read.
  auto other = sem.clone();
  other.index_put_({torch::indexing::Slice(), torch::indexing::Slice(1, torch::indexing::None, 4)},
                   3);
  EXPECT_TRUE(torch::equal(a(other), t));
  // The ignore region maps to the unknown embedding, and classes change tokens.
  auto flipped = sem.clone();
  flipped.index_put_({1, 0, 0}, (sem[1][0][0].item<int64_t>() + 1) % 5);
  EXPECT_FALSE(torch::equal(a(flipped), t));
  EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
}

}  // namespace
}  // namespace c2fmae::models
