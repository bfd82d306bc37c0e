#include "c2fmae/losses/rgb_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/patchify.h"

namespace c2fmae::losses {

LossRatio rgb_loss(const torch::Tensor& pred, const torch::Tensor& images,
                   const torch::Tensor& rows, int64_t patch, bool norm_pix, Reduction reduction) {
  auto patches = patchify(images.to(torch::kFloat), patch);  // [B, L, p*p*3]
  const int64_t b = patches.size(0), l = patches.size(1);
  auto target = patches.reshape({b * l, patches.size(2)}).index_select(0, rows);  // [N, p*p*3]
  TORCH_CHECK(target.sizes() == pred.sizes(), "rgb_loss: prediction ", pred.sizes(),
              " does not match the target rows ", target.sizes());
  if (norm_pix) {
    auto mean = target.mean(-1, /*keepdim=*/true);
    auto var = target.var(-1, /*unbiased=*/true, /*keepdim=*/true);
    target = (target - mean) / (var + 1e-6).sqrt();
  }
  auto per_token = (pred.to(torch::kFloat) - target).pow(2).mean(-1);  // [N]
  return reduce_rows(per_token, torch::ones_like(per_token), rows.div(l, "floor"), b, reduction);
}

}  // namespace c2fmae::losses
