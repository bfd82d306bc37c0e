#include "c2fmae/train/knn_classifier.h"

#include <torch/torch.h>

#include <algorithm>

namespace c2fmae::train {

KnnResult knn_classify(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                       const torch::Tensor& test_features, const torch::Tensor& test_labels,
                       int64_t k, double temperature, int64_t num_classes, int64_t chunk) {
  TORCH_CHECK(train_features.dim() == 2 && test_features.dim() == 2 &&
                  train_features.size(1) == test_features.size(1),
              "knn_classify: expected features [N, D] and [M, D], got ", train_features.sizes(),
              " and ", test_features.sizes());
  TORCH_CHECK(train_features.size(0) == train_labels.numel() &&
                  test_features.size(0) == test_labels.numel(),
              "knn_classify: one label per feature row");
  TORCH_CHECK(train_features.size(0) > 0 && k > 0 && temperature > 0 && num_classes > 0,
              "knn_classify: needs training samples, k > 0, T > 0 and classes");
  torch::NoGradGuard no_grad;
  namespace F = torch::nn::functional;
  const auto norm = F::NormalizeFuncOptions().p(2).dim(1);
  const auto bank = F::normalize(train_features.to(torch::kFloat), norm).t();  // [D, N]
  const auto bank_labels = train_labels.to(bank.device(), torch::kLong);
  const auto keep = test_labels.ge(0);
  const auto test = F::normalize(test_features.to(torch::kFloat), norm)
                        .index({keep.to(test_features.device())})
                        .to(bank.device());
  const auto labels = test_labels.index({keep}).to(bank.device(), torch::kLong);
  KnnResult r;
  r.k = std::min<int64_t>(k, bank.size(1));
  r.tested = test.size(0);
  if (r.tested == 0) return r;
  const int64_t top = std::min<int64_t>({5, r.k, num_classes});
  double top1 = 0.0, top5 = 0.0;
  for (int64_t start = 0; start < r.tested; start += chunk) {
    const int64_t n = std::min(chunk, r.tested - start);
    const auto similarity = torch::mm(test.narrow(0, start, n), bank);  // [n, N]
    const auto [distances, indices] = similarity.topk(r.k, 1, /*largest=*/true, /*sorted=*/true);
    const auto candidates = bank_labels.index({indices});  // [n, k]
    auto votes = torch::zeros({n, num_classes}, similarity.options());
    // exp((s - s_max) / T): the same ranking as DINO's exp(s / T), without the overflow to
    // inf (and all-tied votes) that a small T gives in float32.
    const auto nearest = distances.narrow(1, 0, 1);
    votes.scatter_add_(1, candidates, ((distances - nearest) / temperature).exp());
    const auto order = std::get<1>(votes.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
    const auto hits = order.narrow(1, 0, top).eq(labels.narrow(0, start, n).unsqueeze(1));
    top1 += hits.narrow(1, 0, 1).sum().item<double>();
    top5 += hits.sum().item<double>();
  }
  r.top1 = 100.0 * top1 / static_cast<double>(r.tested);
  r.top5 = 100.0 * top5 / static_cast<double>(r.tested);
  return r;
}

}  // namespace c2fmae::train
