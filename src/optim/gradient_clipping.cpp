#include "c2fmae/optim/gradient_clipping.h"

#include <torch/torch.h>

namespace c2fmae::optim {

torch::Tensor clip_gradient_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return torch::zeros({}, torch::kFloat);
  const auto norms = torch::_foreach_norm(grads, 2);
  const auto total = torch::linalg_vector_norm(torch::stack(norms).to(torch::kFloat), 2);
  if (max_norm > 0) {
    // min(1, max_norm / norm), and 1 where the norm is not finite: as torch's clipping,
    // without a host sync.
    auto coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
    coef = torch::where(torch::isfinite(total), coef, torch::ones_like(coef));
    torch::_foreach_mul_(grads, coef.to(grads.front().dtype()));
  }
  return total;
}

}  // namespace c2fmae::optim
