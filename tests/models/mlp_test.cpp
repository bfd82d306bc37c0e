#include "c2fmae/models/mlp.h"

#include "test_helpers.h"

namespace c2fmae::models {
namespace {

TEST(Mlp, LinearGeluLinear) {
  testing::seed(3);
  Mlp mlp(MlpOptions(8, 32));
  auto x = torch::randn({2, 3, 8});
  auto h = torch::gelu(torch::linear(x, mlp->fc1->weight, mlp->fc1->bias));
  testing::expect_close(mlp(x), torch::linear(h, mlp->fc2->weight, mlp->fc2->bias));
}

}  // namespace
}  // namespace c2fmae::models
