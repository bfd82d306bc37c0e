// The batch loader: which samples make up micro-batch `step` of this rank, drawn, rendered
// or decoded on worker threads, augmented, collated and normalised into a Batch.
//
// Sample order is a pure function of (seed, epoch): each epoch is a seeded permutation of
// the dataset, cut into global batches of batch_size x world_size samples, of which rank r
// takes the r-th slice (the last partial batch is dropped). Augmentations are seeded by
// (seed, epoch, index). So `batch(step)` is the same on every call, and the data position
// of a checkpoint is just the step.
#pragma once
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>

#include "c2fmae/core/batch.h"
#include "c2fmae/data/augmentation.h"
#include "c2fmae/data/dataset.h"

namespace c2fmae::data {

struct LoaderOptions {
  int64_t batch_size = 256;  ///< samples per rank and micro-batch
  int64_t img_size = 224;
  int64_t num_workers = 8;  ///< threads rendering / decoding samples (0 or 1: one thread)
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  AugmentationOptions augmentation;
};

/// ImageNet normalisation (MAE, timm): x = (x / 255 - mean) / std per channel.
constexpr double kImageNetMean[3] = {0.485, 0.456, 0.406};
constexpr double kImageNetStd[3] = {0.229, 0.224, 0.225};

class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~BatchLoader();

  /// Micro-batches per epoch for this rank.
  int64_t steps_per_epoch() const;
  /// Micro-batch `step` (counted from the start of training): rgb, semantic, instance,
  /// label on CPU. Starts preparing step + 1 in the background.
  Batch batch(int64_t step);
  /// Dataset indices of micro-batch `step` on this rank.
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

/// Stacks samples into a Batch: rgb [B, 3, H, W] float normalised with kImageNetMean/Std,
/// semantic and instance [B, H, W] int64, label [B] int64.
Batch collate(const std::vector<Sample>& samples);

}  // namespace c2fmae::data
