#include "c2fmae/losses/rgb_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/patchify.h"

namespace c2fmae::losses {

torch::Tensor rgb_loss(const torch::Tensor& pred, const torch::Tensor& images,
                       const torch::Tensor& masked, int64_t patch, bool norm_pix) {
  auto target = patchify(images.to(torch::kFloat), patch);  // [B, L, p*p*3]
  TORCH_CHECK(target.sizes() == pred.sizes(), "rgb_loss: prediction ", pred.sizes(),
              " does not match the patchified target ", target.sizes());
  auto m = masked.unsqueeze(-1);
  target = target.masked_fill(m.logical_not(), 0.0);  // visible targets are never read
  if (norm_pix) {
    auto mean = target.mean(-1, /*keepdim=*/true);
    auto var = target.var(-1, /*unbiased=*/true, /*keepdim=*/true);
    target = (target - mean) / (var + 1e-6).sqrt();
  }
  auto per_token = (pred.to(torch::kFloat) - target).pow(2).mean(-1);  // [B, L]
  auto w = masked.to(torch::kFloat);
  return (per_token * w).sum() / w.sum().clamp_min(1.0);
}

}  // namespace c2fmae::losses
