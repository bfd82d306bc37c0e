#include "c2fmae/losses/semantic_loss.h"

#include <torch/torch.h>

#include "c2fmae/core/modality.h"
#include "c2fmae/core/patchify.h"

namespace c2fmae::losses {

LossRatio semantic_loss(const torch::Tensor& logits, const torch::Tensor& target,
                        const torch::Tensor& rows, int64_t num_classes, Reduction reduction) {
  const int64_t n = logits.size(0), qq = logits.size(1) / num_classes;
  const auto q = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(qq))));
  TORCH_CHECK(logits.dim() == 2 && q * q * num_classes == logits.size(1) && rows.size(0) == n,
              "semantic_loss: expected logits [N, q*q*", num_classes, "] for ", rows.size(0),
              " rows, but got ", logits.sizes());
  auto patches = patchify_map(target, q);  // [B, L, q*q]
  const int64_t b = patches.size(0), l = patches.size(1);
  auto tgt = patches.reshape({b * l, qq}).index_select(0, rows).to(torch::kLong);  // [N, q*q]
  auto ce = torch::nn::functional::cross_entropy(
                logits.reshape({n * qq, num_classes}).to(torch::kFloat), tgt.reshape({-1}),
                torch::nn::functional::CrossEntropyFuncOptions()
                    .ignore_index(kIgnoreClass)
                    .reduction(torch::kNone))
                .view({n, qq});
  const auto counted = (tgt != kIgnoreClass).sum(1);
  return reduce_rows(ce.sum(1), counted, rows.div(l, "floor"), b, reduction);
}

}  // namespace c2fmae::losses
