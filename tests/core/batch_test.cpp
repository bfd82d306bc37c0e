#include "c2fmae/core/batch.h"

#include "test_helpers.h"

namespace c2fmae {
namespace {

TEST(Batch, SelectAndSizeKeepUndefinedFields) {
  Batch b;
  EXPECT_EQ(b.size(), 0);
  b.rgb = torch::arange(4).view({4, 1, 1, 1}).to(torch::kFloat);
  b.label = torch::arange(4);
  auto s = b.select(torch::tensor({3, 1}, torch::kLong));
  EXPECT_EQ(s.size(), 2);
  EXPECT_TRUE(s.label.equal(torch::tensor({3, 1}, torch::kLong)));
  EXPECT_FALSE(s.semantic.defined());
  EXPECT_EQ(b.to(torch::kCPU).size(), 4);
}

}  // namespace
}  // namespace c2fmae
