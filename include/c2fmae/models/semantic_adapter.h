// Semantic-mask input adapter (MultiMAE's SemSegInputAdapter): a per-pixel class embedding
// on the 1/4-resolution map, then a (p/4) x (p/4) patch embedding.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

struct SemanticAdapterOptions {
  SemanticAdapterOptions(int64_t num_classes, int64_t patch_size, int64_t dim)
      : num_classes_(num_classes), patch_size_(patch_size), dim_(dim) {}
  /// Semantic classes; kIgnoreClass pixels get an extra learned "unknown" embedding.
  TORCH_ARG(int64_t, num_classes);
  /// Patch side in full-resolution pixels (a multiple of kLabelDownsample, core/modality.h).
  TORCH_ARG(int64_t, patch_size);
  /// Token width.
  TORCH_ARG(int64_t, dim);
  /// Class embedding width (MultiMAE: 64).
  TORCH_ARG(int64_t, class_dim) = 64;
};

class SemanticAdapterImpl : public torch::nn::Cloneable<SemanticAdapterImpl> {
 public:
  explicit SemanticAdapterImpl(const SemanticAdapterOptions& options);
  void reset() override;
  /// semantic: [B, h, w] classes (or kIgnoreClass) at the label resolution (1/4 of the
  /// image; any integer dtype) -> tokens [B, L, D].
  torch::Tensor forward(const torch::Tensor& semantic);

  SemanticAdapterOptions options;
  torch::nn::Embedding class_embed{nullptr};
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(SemanticAdapter);

}  // namespace c2fmae::models
