// Instance-mask input adapter with a permutation-invariant encoding (DESIGN.md §1).
//
// Instance ids are arbitrary, so the adapter never sees their values: on the 1/4-resolution
// map it renumbers each sample's instances 1..n in raster order of first appearance
// (canonical_instance_ids), maps them to learned slot embeddings (a random permutation of
// the slots per sample while training, so no slot is tied to an image position; identity in
// eval), appends an instance-boundary channel and applies a (p/4) x (p/4) patch embedding.
// Relabelling the ids of an image therefore leaves the output distribution unchanged, and
// the output itself unchanged for the same random state. Images with more instances than
// slots reuse slots cyclically.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

namespace c2fmae::models {

struct InstanceAdapterOptions {
  InstanceAdapterOptions(int64_t patch_size, int64_t dim) : patch_size_(patch_size), dim_(dim) {}
  /// Patch side in full-resolution pixels (a multiple of kLabelDownsample, core/modality.h).
  TORCH_ARG(int64_t, patch_size);
  /// Token width.
  TORCH_ARG(int64_t, dim);
  /// Learned slot embeddings instances are mapped to (slot 0 = no instance is separate).
  TORCH_ARG(int64_t, num_slots) = 64;
  /// Slot embedding width.
  TORCH_ARG(int64_t, slot_dim) = 64;
};

class InstanceAdapterImpl : public torch::nn::Cloneable<InstanceAdapterImpl> {
 public:
  explicit InstanceAdapterImpl(const InstanceAdapterOptions& options);
  void reset() override;
  /// instance: [B, H, W] int64 ids (kNoInstance = none) -> tokens [B, L, D].
  torch::Tensor forward(const torch::Tensor& instance);

  InstanceAdapterOptions options;
  torch::nn::Embedding slot_embed{nullptr};
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(InstanceAdapter);

/// Renumbers instance ids per sample to 1..n by raster order of first appearance, keeping
/// kNoInstance as 0: [B, H, W] -> [B, H, W] int64. Invariant to any relabelling of the ids.
/// Ids must be in [0, kInstanceIdLimit).
torch::Tensor canonical_instance_ids(const torch::Tensor& ids);

/// 1 where a pixel's id differs from one of its 4 neighbours: [B, H, W] -> [B, 1, H, W] float.
torch::Tensor instance_boundaries(const torch::Tensor& ids);

}  // namespace c2fmae::models
