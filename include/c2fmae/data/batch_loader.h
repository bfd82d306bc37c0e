// The batch loader: which samples make up micro-batch `step` of this shard, drawn, rendered
// or decoded on worker threads, augmented, collated and normalised into a Batch.
//
// Sample order is a pure function of (seed, epoch): each epoch is a seeded permutation of
// the dataset, cut into global batches of batch_size x num_shards samples, of which shard s
// takes the s-th slice (the last partial batch is dropped). Who reads which shard (one per
// process of a distributed run) is decided by the caller. Augmentations are seeded by
// (seed, epoch, index). So `batch(step)` is the same on every call, and the data position
// of a checkpoint is just the step.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/batch.h"
#include "c2fmae/data/augmentation.h"
#include "c2fmae/data/dataset.h"

namespace c2fmae::data {

struct LoaderOptions {
  int64_t batch_size = 256;  ///< samples per shard and micro-batch
  int64_t img_size = 224;
  int64_t num_workers = 8;  ///< threads rendering / decoding samples (0 or 1: one thread)
  uint64_t seed = 0;
  int64_t shard = 0;       ///< which slice of each global batch this loader reads
  int64_t num_shards = 1;  ///< slices per global batch
  AugmentationOptions augmentation;
  /// > 0: the batch's label maps at the label resolution (1 / kLabelDownsample) and its
  /// instance ids canonical with at most this many instances (instance_ids.h); 0: the
  /// maps as the dataset gives them.
  int64_t max_instances = 0;
  /// Run on the loader's thread on each collated batch with its micro-batch step (as
  /// PyTorch's collate_fn): how masks are made off the training thread (DESIGN.md §2).
  std::function<void(Batch&, int64_t)> transform;
  /// Page-lock the batch's tensors (for asynchronous copies to a CUDA device).
  bool pin_memory = false;
};

/// ImageNet normalisation (MAE, timm): x = (x / 255 - mean) / std per channel.
constexpr double kImageNetMean[3] = {0.485, 0.456, 0.406};
constexpr double kImageNetStd[3] = {0.229, 0.224, 0.225};

class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~BatchLoader();

  /// Micro-batches per epoch for this shard.
  int64_t steps_per_epoch() const;
  /// Micro-batch `step` (counted from the start of training): rgb, semantic, instance,
  /// label on CPU, then whatever the transform adds. Starts preparing step + 1 in the
  /// background.
  Batch batch(int64_t step);
  /// Dataset indices of micro-batch `step` of this shard.
  std::vector<int64_t> indices(int64_t step) const;

 private:
  Batch assemble(int64_t step) const;
  /// Stops a background batch nobody will use (a jump to another step, destruction).
  void cancel_prefetch();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  mutable std::mutex permutation_mutex_;
  mutable int64_t permutation_epoch_ = -1;
  mutable std::vector<int64_t> permutation_;
  int64_t prefetched_step_ = -1;
  std::future<Batch> prefetched_;
  mutable std::atomic<bool> cancelled_{false};  ///< checked by workers between samples
};

/// The data section's loader options for images of img_size pixels: batch size, worker
/// threads, crop and flip; `seed` is the run's seed.
LoaderOptions loader_options(const config::DataConfig& data, int64_t img_size, uint64_t seed,
                             int64_t shard = 0, int64_t num_shards = 1);

/// The label maps as training reads them: at the label resolution (1 / kLabelDownsample)
/// and the instance ids canonical with at most max_instances instances (instance_ids.h).
void prepare_training_labels(Batch& batch, int64_t max_instances);

/// Stacks samples into a Batch: rgb [B, 3, H, W] float normalised with kImageNetMean/Std,
/// semantic and instance [B, H, W] int64, label [B] int64.
Batch collate(const std::vector<Sample>& samples);

}  // namespace c2fmae::data
