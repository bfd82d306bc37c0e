// The dense probe: what a frozen encoder knows of each patch's semantic class. A linear
// (multinomial logistic regression) classifier of the patch's class from its output token,
// trained on one split's semantic maps and measured on another's. It measures what C2FMAE
// claims to teach (semantics read from pixels) and costs one pass of the encoder per image.
//
//   auto r = dense_probe(train_tokens, train_classes, val_tokens, val_classes, 10, options);
//   r.patch_acc, r.mean_class_acc, r.miou;   // percentages, beside the majority-class prior
//
// The classifier: tokens standardised with the training tokens' mean and std, weights and
// bias from zero, cross-entropy plus weight_decay * |W|^2 minimised by full-batch L-BFGS
// (strong Wolfe line search) for `iterations` iterations: deterministic, and converged
// where SGD would need a schedule.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace c2fmae::train {

struct DenseProbeOptions {
  int64_t iterations = 100;    ///< L-BFGS iterations
  double weight_decay = 1e-4;  ///< on the weights (not the bias), per the loss's mean
  /// Classes left out of mean_class_acc (e.g. the "stuff" of a scene); they still count in
  /// patch_acc and mIoU.
  std::vector<int64_t> background;
};

struct DenseProbeResult {
  double patch_acc = 0.0;       ///< % of the test patches classified right
  double mean_class_acc = 0.0;  ///< mean over the non-background classes present of their accuracy
  double miou = 0.0;            ///< mean over the classes present in the test maps of IoU
  /// The same figures for always predicting the training patches' most frequent class.
  double prior_patch_acc = 0.0, prior_mean_class_acc = 0.0, prior_miou = 0.0;
  double class_entropy = 0.0;  ///< entropy (nats) of the test patches' classes
  int64_t train_patches = 0, test_patches = 0, classes = 0;
  double train_loss = 0.0;  ///< the fitted classifier's training loss
};

/// train_tokens [N, D] with train_classes [N] int64, test_tokens [M, D] with test_classes
/// [M]; a class < 0 marks a patch without a class (left out). Classes are < num_classes.
DenseProbeResult dense_probe(const torch::Tensor& train_tokens, const torch::Tensor& train_classes,
                             const torch::Tensor& test_tokens, const torch::Tensor& test_classes,
                             int64_t num_classes, const DenseProbeOptions& options);

/// "0-3,7" -> {0, 1, 2, 3, 7}; "" -> {}. Throws std::invalid_argument naming the bad part.
std::vector<int64_t> parse_class_list(const std::string& text);

}  // namespace c2fmae::train
