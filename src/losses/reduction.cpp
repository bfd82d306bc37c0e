#include "c2fmae/losses/reduction.h"

#include <torch/torch.h>

namespace c2fmae::losses {

torch::Tensor LossRatio::value() const { return numerator / denominator.clamp_min(1.0); }

LossRatio reduce_rows(const torch::Tensor& sums, const torch::Tensor& counts,
                      const torch::Tensor& sample, int64_t batch_size, Reduction reduction) {
  const auto s = sums.to(torch::kFloat), c = counts.to(torch::kFloat);
  if (reduction == Reduction::kPixels) return {s.sum(), c.sum().detach()};
  auto per_sum = torch::zeros({batch_size}, s.options()).index_add(0, sample, s);
  auto per_count = torch::zeros({batch_size}, s.options()).index_add(0, sample, c);
  auto has = (per_count > 0).to(torch::kFloat);
  return {(per_sum / per_count.clamp_min(1.0) * has).sum(), has.sum().detach()};
}

}  // namespace c2fmae::losses
