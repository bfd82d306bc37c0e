// Shared test helpers: seeding and tensor comparison.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace c2fmae::testing {

/// Seeds LibTorch's generator (call at the start of every randomised test).
inline void seed(uint64_t s = 0) { torch::manual_seed(s); }

/// Largest |a - b| / max(|b|, floor) over all elements.
inline double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b, double floor = 1e-6) {
  auto da = a.to(torch::kDouble), db = b.to(torch::kDouble);
  return ((da - db).abs() / db.abs().clamp_min(floor)).max().item<double>();
}

/// Expects equal shapes and |a - b| <= atol + rtol * |b| everywhere.
inline void expect_close(const torch::Tensor& a, const torch::Tensor& b, double rtol = 1e-5,
                         double atol = 1e-6) {
  ASSERT_EQ(a.sizes(), b.sizes());
  auto da = a.to(torch::kDouble), db = b.to(torch::kDouble);
  auto excess = ((da - db).abs() - (atol + rtol * db.abs())).max().item<double>();
  EXPECT_LE(excess, 0.0) << "max |a-b| = " << (da - db).abs().max().item<double>();
}

}  // namespace c2fmae::testing
