// Instance-mask input adapter with a permutation-invariant encoding (DESIGN.md §1).
//
// Instance ids are arbitrary, so the adapter reads canonical ids only: the loader renumbers
// each sample's instances 1..K (data/instance_ids.h) on its threads, so nothing here needs
// the ids' values or a host sync. On the label-resolution map (1/4 of the image) the
// adapter maps ids to learned slot embeddings (a random permutation of the slots per sample
// while training, so no slot is tied to an image position; identity in eval), appends an
// instance-boundary channel computed within each patch (a visible patch must not tell
// whether a masked neighbour continues its instance) and applies a (p/4) x (p/4) patch
// embedding. Ids past num_slots reuse slots cyclically; kInstanceOverflow reads as none.
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
  /// instance: [B, h, w] canonical ids at the label resolution (kNoInstance = none; any
  /// integer dtype) -> tokens [B, L, D]. In training each sample's slots are shuffled, so
  /// that slot embeddings carry identity, not position: by `slot_order` ([B, K] int64, a
  /// permutation of the K slots per sample, Batch::slot_order) when given, else drawn here.
  torch::Tensor forward(const torch::Tensor& instance, const torch::Tensor& slot_order = {});

  InstanceAdapterOptions options;
  torch::nn::Embedding slot_embed{nullptr};
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(InstanceAdapter);

/// 1 where a pixel's id differs from one of its 4 neighbours inside the same cell of
/// `cell` x `cell` pixels (a patch): [B, H, W] -> [B, 1, H, W] float. Pixels on a cell's
/// border are never compared with the next cell.
torch::Tensor instance_boundaries(const torch::Tensor& ids, int64_t cell);

}  // namespace c2fmae::models
