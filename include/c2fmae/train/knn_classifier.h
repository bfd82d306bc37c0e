// DINO's weighted k-nearest-neighbour classifier (eval_knn.py, knn_classifier): the standard
// probe of a frozen representation that trains nothing. Features are L2-normalised; each
// test sample takes its k most cosine-similar training samples, which vote for their class
// with weight exp(similarity / T); the classes are ranked by their summed votes.
//
//   auto r = knn_classify(train_features, train_labels, val_features, val_labels, 20, 0.07, 6);
//   r.top1, r.top5;   // percentages
#pragma once
#include <torch/types.h>

namespace c2fmae::train {

struct KnnResult {
  double top1 = 0.0;   ///< % of test samples whose highest-voted class is theirs
  double top5 = 0.0;   ///< % whose class is among the min(5, k, classes) highest-voted
  int64_t k = 0;       ///< neighbours used: min(k asked, training samples)
  int64_t tested = 0;  ///< test samples
};

/// train_features [N, D], train_labels [N] int64 in [0, num_classes); test_features [M, D],
/// test_labels [M] (a row with label < 0 is padding, left out). Any float dtype and device;
/// computed in float32 in chunks of `chunk` test rows. Ties in similarity and in votes go
/// to the lower index, as torch.topk and a stable sort do.
KnnResult knn_classify(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                       const torch::Tensor& test_features, const torch::Tensor& test_labels,
                       int64_t k, double temperature, int64_t num_classes, int64_t chunk = 256);

}  // namespace c2fmae::train
