#include "c2fmae/train/dense_probe.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace c2fmae::train {
namespace {

struct Scores {
  double patch_acc, mean_class_acc, miou;
};

/// Patch accuracy, the mean accuracy over the non-background classes present in `truth`,
/// and the mean IoU over the classes present in `truth`.
Scores scores(const torch::Tensor& predicted, const torch::Tensor& truth, int64_t num_classes,
              const std::vector<int64_t>& background) {
  const auto hits = torch::bincount(truth.masked_select(predicted.eq(truth)), {}, num_classes)
                        .to(torch::kDouble)
                        .contiguous();
  const auto in_truth = torch::bincount(truth, {}, num_classes).to(torch::kDouble).contiguous();
  const auto in_pred = torch::bincount(predicted, {}, num_classes).to(torch::kDouble).contiguous();
  const auto* h = hits.data_ptr<double>();
  const auto* t = in_truth.data_ptr<double>();
  const auto* p = in_pred.data_ptr<double>();
  double correct = 0, total = 0, acc_sum = 0, iou_sum = 0;
  int64_t acc_n = 0, iou_n = 0;
  for (int64_t k = 0; k < num_classes; ++k) {
    correct += h[k];
    total += t[k];
    if (t[k] <= 0) continue;
    iou_sum += h[k] / (t[k] + p[k] - h[k]), ++iou_n;
    if (std::find(background.begin(), background.end(), k) == background.end()) {
      acc_sum += h[k] / t[k], ++acc_n;
    }
  }
  return {100.0 * correct / std::max(total, 1.0),
          100.0 * acc_sum / std::max<double>(static_cast<double>(acc_n), 1.0),
          100.0 * iou_sum / std::max<double>(static_cast<double>(iou_n), 1.0)};
}

}  // namespace

std::vector<int64_t> parse_class_list(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (part.empty()) {
      if (text.find_first_not_of(" \t") == std::string::npos) break;
      throw std::invalid_argument("an empty entry");
    }
    const auto dash = part.find('-', 1);
    try {
      size_t used = 0;
      const auto first = std::stoll(part.substr(0, dash), &used);
      if (used != part.substr(0, dash).size()) throw std::invalid_argument(part);
      auto last = first;
      if (dash != std::string::npos) {
        const auto tail = part.substr(dash + 1);
        last = std::stoll(tail, &used);
        if (used != tail.size()) throw std::invalid_argument(part);
      }
      if (first < 0 || last < first || last > 65535) throw std::invalid_argument(part);
      for (auto k = first; k <= last; ++k) out.push_back(k);
    } catch (const std::logic_error&) {
      throw std::invalid_argument("'" + part +
                                  "' is not a class id or a range a-b of ids (0..65535)");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

DenseProbeResult dense_probe(const torch::Tensor& train_tokens, const torch::Tensor& train_classes,
                             const torch::Tensor& test_tokens, const torch::Tensor& test_classes,
                             int64_t num_classes, const DenseProbeOptions& options) {
  TORCH_CHECK(train_tokens.dim() == 2 && test_tokens.dim() == 2 &&
                  train_tokens.size(1) == test_tokens.size(1),
              "dense_probe: expected tokens [N, D] and [M, D], got ", train_tokens.sizes(), " and ",
              test_tokens.sizes());
  TORCH_CHECK(
      train_tokens.size(0) == train_classes.numel() && test_tokens.size(0) == test_classes.numel(),
      "dense_probe: one class per token");
  TORCH_CHECK(num_classes > 0, "dense_probe: needs classes");
  const auto train_keep = train_classes.ge(0);
  const auto test_keep = test_classes.ge(0);
  auto x = train_tokens.index({train_keep}).to(torch::kFloat);
  const auto y = train_classes.index({train_keep}).to(torch::kLong);
  auto xt = test_tokens.index({test_keep}).to(torch::kFloat);
  const auto yt = test_classes.index({test_keep}).to(torch::kLong);
  TORCH_CHECK(x.size(0) > 0 && xt.size(0) > 0,
              "dense_probe: no patch with a class in the training or the test maps");
  TORCH_CHECK(y.max().item<int64_t>() < num_classes && yt.max().item<int64_t>() < num_classes,
              "dense_probe: a class id >= ", num_classes);
  DenseProbeResult r;
  r.train_patches = x.size(0);
  r.test_patches = xt.size(0);
  const auto mean = x.mean(0, true);
  const auto std = x.std(0, /*unbiased=*/false, true).clamp_min(1e-6);
  x = (x - mean) / std;
  xt = (xt - mean) / std;

  auto weight = torch::zeros({x.size(1), num_classes}, torch::requires_grad());
  auto bias = torch::zeros({num_classes}, torch::requires_grad());
  torch::optim::LBFGS solver({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                 .max_iter(options.iterations)
                                                 .history_size(20)
                                                 .tolerance_grad(1e-7)
                                                 .tolerance_change(1e-10)
                                                 .line_search_fn("strong_wolfe"));
  auto closure = [&] {
    solver.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(torch::addmm(bias, x, weight), y) +
                options.weight_decay * weight.square().sum();
    loss.backward();
    return loss;
  };
  solver.step(closure);  // returns the loss it started from

  torch::NoGradGuard no_grad;
  r.train_loss = (torch::nn::functional::cross_entropy(torch::addmm(bias, x, weight), y) +
                  options.weight_decay * weight.square().sum())
                     .item<double>();
  const auto predicted = torch::addmm(bias, xt, weight).argmax(1);
  const auto s = scores(predicted, yt, num_classes, options.background);
  r.patch_acc = s.patch_acc;
  r.mean_class_acc = s.mean_class_acc;
  r.miou = s.miou;
  const auto majority = torch::bincount(y, {}, num_classes).argmax();
  const auto prior =
      scores(majority.expand_as(yt).contiguous(), yt, num_classes, options.background);
  r.prior_patch_acc = prior.patch_acc;
  r.prior_mean_class_acc = prior.mean_class_acc;
  r.prior_miou = prior.miou;
  const auto freq =
      torch::bincount(yt, {}, num_classes).to(torch::kDouble) / static_cast<double>(yt.numel());
  r.class_entropy = -(freq * freq.clamp_min(1e-300).log()).sum().item<double>();
  r.classes = torch::bincount(yt, {}, num_classes).gt(0).sum().item<int64_t>();
  return r;
}

}  // namespace c2fmae::train
