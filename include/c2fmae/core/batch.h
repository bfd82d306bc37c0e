// The one struct that carries a batch through data -> masking -> model -> losses -> train.
#pragma once
#include <torch/types.h>

#include <vector>

namespace c2fmae {

struct Batch {
  torch::Tensor rgb;  ///< [B, 3, H, W] float, normalised (ImageNet mean / std)
  /// [B, h, w] int64 class index, kIgnoreClass = ignore. The loader gives the label
  /// resolution h = H / kLabelDownsample; full-resolution maps are accepted everywhere too.
  torch::Tensor semantic;
  /// [B, h, w] instance id, kNoInstance = none. From the loader: canonical ids in a uint8
  /// map (1..K by decreasing area, kInstanceOverflow past K; data/instance_ids.h); maps
  /// given by hand may hold any ids, which the instance adapter and loss read as canonical.
  torch::Tensor instance;
  torch::Tensor label;  ///< [B] int64 image class (fine-tuning, evaluation); -1 = padding
  /// [B, C] float soft targets of fine-tuning (mixup / cutmix with label smoothing), made
  /// on the loader's threads; undefined: the labels are the targets.
  torch::Tensor target;
  torch::Tensor mask;  ///< [B, M, L] bool token mask, convention in mask.h
  /// [B] int64 global sample position from the loader: its place in the run's sample order
  /// over every process's slice (epoch-major). Per-sample random draws (augmentation, mask)
  /// are keyed by it, so W slices of batch b draw what one process of batch W * b draws.
  torch::Tensor position;
  /// [B, K] int64: per sample, a permutation of the instance adapter's K slots (training),
  /// drawn from the sample's position like its mask, so that it does not depend on which
  /// process or batch the sample is in. Undefined: the adapter draws its own.
  torch::Tensor slot_order;
  /// Samples of this batch the loader found bad and replaced (data_skipped in metrics).
  int64_t data_skipped = 0;

  /// Derived from `mask` where the mask is made (token_indices in mask.h), so the model and
  /// the loss never read the mask on the device (no host sync):
  torch::Tensor visible;              ///< [B, V] int64 visible flattened token indices
  std::vector<torch::Tensor> masked;  ///< per modality m: [N_m] int64 rows b * L + l masked

  /// Number of samples (from the first defined field; 0 if none).
  int64_t size() const;
  /// The same batch on `device` (undefined fields stay undefined).
  Batch to(const torch::Device& device, bool non_blocking = false) const;
  /// Samples `index` ([K] int64) of every defined field; `visible` and `masked` are left
  /// out (re-derive them from the selected mask).
  Batch select(const torch::Tensor& index) const;
};

}  // namespace c2fmae
