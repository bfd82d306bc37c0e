#include "c2fmae/optim/adamw.h"

#include <torch/serialize.h>

#include "test_helpers.h"

namespace c2fmae::optim {
namespace {

std::vector<ParamGroup> groups(const torch::Tensor& w, const torch::Tensor& b) {
  return {{{"w"}, {w}, 0.1}, {{"b"}, {b}, 0.0}};
}

TEST(AdamW, MatchesTorchOptimAdamW) {
  testing::seed(30);
  auto w = torch::randn({4, 3}, torch::requires_grad());
  auto b = torch::randn({3}, torch::requires_grad());
  auto w_ref = w.detach().clone().requires_grad_(), b_ref = b.detach().clone().requires_grad_();
  AdamW ours(groups(w, b), {0.9, 0.95, 1e-8});
  std::vector<torch::optim::OptimizerParamGroup> ref_groups;
  ref_groups.emplace_back(
      std::vector<torch::Tensor>{w_ref},
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).weight_decay(0.1)));
  ref_groups.emplace_back(
      std::vector<torch::Tensor>{b_ref},
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).weight_decay(0.0)));
  torch::optim::AdamW ref(ref_groups, torch::optim::AdamWOptions(1e-2));
  auto x = torch::randn({5, 4});
  for (int i = 0; i < 5; ++i) {
    (torch::matmul(x, w) + b).pow(2).sum().backward();
    (torch::matmul(x, w_ref) + b_ref).pow(2).sum().backward();
    ours.step(1e-2);
    ref.step();
    ours.zero_grad();
    ref.zero_grad();
  }
  testing::expect_close(w, w_ref, 1e-5, 1e-6);
  testing::expect_close(b, b_ref, 1e-5, 1e-6);
  EXPECT_FALSE(w.grad().defined());  // reset to undefined, not zeroed
}

TEST(AdamW, StateRoundTripsThroughAnArchive) {
  testing::seed(31);
  auto w = torch::randn({3, 3}, torch::requires_grad());
  auto b = torch::randn({3}, torch::requires_grad());
  AdamW a(groups(w, b), {});
  w.pow(2).sum().backward();  // b gets no gradient: no state yet
  a.step(0.1);
  a.zero_grad();
  torch::serialize::OutputArchive out;
  a.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  auto w2 = w.detach().clone().requires_grad_(), b2 = b.detach().clone().requires_grad_();
  AdamW c(groups(w2, b2), {});
  torch::serialize::InputArchive in;
  std::istringstream is(bytes.str());
  in.load_from(is);
  c.load(in);
  w.pow(2).sum().backward();
  w2.pow(2).sum().backward();
  a.step(0.1);
  c.step(0.1);
  EXPECT_TRUE(torch::equal(w, w2));
}

}  // namespace
}  // namespace c2fmae::optim
