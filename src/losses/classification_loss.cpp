#include "c2fmae/losses/classification_loss.h"

#include <torch/torch.h>

#include <algorithm>

namespace c2fmae::losses {
namespace {

void check_logits(const torch::Tensor& logits, const char* where) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(1) > 0 && logits.is_floating_point(), where,
              ": expected floating logits [B, C] with C >= 1, but got ", logits.sizes(), " ",
              logits.scalar_type());
}

void check_labels(const torch::Tensor& logits, const torch::Tensor& labels, const char* where) {
  TORCH_CHECK(
      labels.dim() == 1 && labels.scalar_type() == torch::kLong && labels.size(0) == logits.size(0),
      where, ": expected int64 labels [", logits.size(0), "], but got ", labels.sizes(), " ",
      labels.scalar_type());
}

}  // namespace

torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target) {
  check_logits(logits, "soft_target_cross_entropy");
  TORCH_CHECK(target.sizes() == logits.sizes(), "soft_target_cross_entropy: expected target ",
              logits.sizes(), ", but got ", target.sizes());
  auto log_p = torch::log_softmax(logits.to(torch::kFloat), -1);  // [B, C]
  return (-target.to(torch::kFloat) * log_p).sum(-1).mean();
}

torch::Tensor label_smoothing_cross_entropy(const torch::Tensor& logits,
                                            const torch::Tensor& labels, double smoothing) {
  check_logits(logits, "label_smoothing_cross_entropy");
  check_labels(logits, labels, "label_smoothing_cross_entropy");
  TORCH_CHECK(smoothing >= 0.0 && smoothing < 1.0,
              "label_smoothing_cross_entropy: smoothing must be in [0, 1), but got ", smoothing);
  auto log_p = torch::log_softmax(logits.to(torch::kFloat), -1);  // [B, C]
  auto nll = -log_p.gather(-1, labels.unsqueeze(1)).squeeze(1);   // [B]
  auto smooth = -log_p.mean(-1);                                  // [B]
  return ((1.0 - smoothing) * nll + smoothing * smooth).mean();
}

torch::Tensor topk_correct(const torch::Tensor& logits, const torch::Tensor& labels,
                           const std::vector<int64_t>& ks) {
  check_logits(logits, "topk_correct");
  check_labels(logits, labels, "topk_correct");
  TORCH_CHECK(!ks.empty() && *std::min_element(ks.begin(), ks.end()) >= 1,
              "topk_correct: expected ks >= 1, but got ", c10::IntArrayRef(ks));
  const int64_t max_k = std::min(*std::max_element(ks.begin(), ks.end()), logits.size(1));
  auto pred = std::get<1>(logits.topk(max_k, 1, /*largest=*/true, /*sorted=*/true));  // [B, K]
  // Indices are >= 0, so padding labels (< 0) never match.
  auto hits = pred.eq(labels.to(pred.device()).view({-1, 1})).to(torch::kLong);  // [B, K]
  auto counts = hits.sum(0).cumsum(0);  // [K]: rows hit within the top k+1
  std::vector<torch::Tensor> picked;
  for (int64_t k : ks) picked.push_back(counts[std::min(k, max_k) - 1]);
  return torch::stack(picked);
}

}  // namespace c2fmae::losses
