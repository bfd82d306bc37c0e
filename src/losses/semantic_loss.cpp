#include "c2fmae/losses/semantic_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"
#include "c2fmae/core/patchify.h"

namespace c2fmae::losses {

torch::Tensor semantic_loss(const torch::Tensor& logits, const torch::Tensor& target,
                            const torch::Tensor& masked, int64_t num_classes) {
  const int64_t b = logits.size(0), l = logits.size(1);
  const int64_t qq = logits.size(2) / num_classes;
  const auto q = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(qq))));
  TORCH_CHECK(q * q * num_classes == logits.size(2), "semantic_loss: expected logits [B, L, q*q*",
              num_classes, "], but got ", logits.sizes());
  auto tgt = patchify_map(target, q);  // [B, L, q*q]
  TORCH_CHECK(tgt.size(1) == l, "semantic_loss: target gives ", tgt.size(1), " patches, logits ",
              l);
  // Visible tokens: their targets are replaced by ignore before anything reads them.
  tgt = tgt.masked_fill(masked.logical_not().unsqueeze(-1), kIgnoreClass);
  auto ce = torch::nn::functional::cross_entropy(
      logits.reshape({b * l * qq, num_classes}).to(torch::kFloat), tgt.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions()
          .ignore_index(kIgnoreClass)
          .reduction(torch::kSum));
  auto valid = (tgt != kIgnoreClass).sum().clamp_min(1);
  return ce / valid;
}

}  // namespace c2fmae::losses
