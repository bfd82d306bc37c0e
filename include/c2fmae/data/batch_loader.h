// The batch loader: which samples make up micro-batch `micro_step` of this process's slice,
// read by a pool of worker threads straight into pre-allocated (pinned, for CUDA) batch
// tensors, with up to `prefetch` batches in flight behind the one being trained on
// (DESIGN.md §2).
//
// Order, as PyTorch's DistributedSampler with drop_last: each epoch is a permutation of the
// dataset seeded by (seed, epoch), cut into global batches of batch_size x num_slices
// samples; loader `slice` s takes the s-th slice; the last partial global batch is dropped.
// A sample's global position is its place in that order over the whole run (epoch-major),
// and every random draw for it (crop, flip, its replacement if it is bad, its mask) is keyed
// by (seed, position): num_slices loaders of batch b read and draw exactly what one loader
// of batch num_slices x b reads and draws. So `batch(micro_step)` is a pure function of the
// micro-step (step x accum + k in training), and a checkpoint's step is its data position.
//
// Bad samples (BadSample from the dataset) are replaced by another sample drawn from (seed,
// position), counted in Batch::data_skipped, and logged once per dataset index.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/batch.h"
#include "c2fmae/data/augmentation.h"
#include "c2fmae/data/dataset.h"
#include "c2fmae/data/sample.h"

namespace c2fmae::data {

struct LoaderOptions {
  int64_t batch_size = 256;  ///< samples per slice and micro-batch
  int64_t img_size = 224;
  int64_t num_workers = 8;  ///< threads reading samples (0 or 1: one thread)
  int64_t prefetch = 2;     ///< batches prepared ahead of the one asked for (>= 1)
  uint64_t seed = 0;
  int64_t slice = 0;       ///< which slice of each global batch this loader reads (the rank)
  int64_t num_slices = 1;  ///< slices per global batch (the processes)
  AugmentationOptions augmentation;
  formats::Interpolation interpolation = formats::Interpolation::kBicubic;
  /// Read the semantic and instance maps (false: rgb and label only).
  bool masks = true;
  /// > 0: a semantic id >= this (other than kIgnoreClass) makes a sample bad.
  int64_t num_semantic_classes = 0;
  /// > 0: the batch's label maps at the label resolution (1 / kLabelDownsample) and its
  /// instance ids canonical with at most this many instances (instance_ids.h); 0: the
  /// maps at the image resolution with the dataset's ids.
  int64_t max_instances = 0;
  /// Run on the loader's thread on each batch with its micro-step (as PyTorch's
  /// collate_fn): how masks are made off the training thread (DESIGN.md §2).
  std::function<void(Batch&, int64_t)> transform;
  /// Page-lock the batch's tensors (for asynchronous copies to a CUDA device).
  bool pin_memory = false;
  /// Tries to replace one bad sample before the batch fails (the dataset is mostly bad).
  int64_t max_replacements = 64;
  /// Run on the loader's thread on each sample's image right after it is read, with a seed
  /// drawn like its crop (seed, position): rgb [3, img_size, img_size] normalised (as
  /// SampleSlot::rgb). How fine-tuning's RandAugment and random erasing run off the
  /// training thread.
  std::function<void(float* rgb, int64_t img_size, uint64_t seed)> rgb_transform;
  /// Evaluation order: the dataset once, in index order, cut into global batches of
  /// batch_size x num_slices (loader `slice` s takes the s-th slice); the last global batch
  /// is filled up with repeated samples whose label is -1 (padding every consumer skips), so
  /// every sample is seen exactly once over the slices. micro_steps_per_epoch() is then the
  /// number of micro-batches of that one pass.
  bool evaluation = false;
};

class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  /// Micro-batches per epoch for this slice.
  int64_t micro_steps_per_epoch() const;
  /// Micro-batch `micro_step` (counted from the start of training): rgb, semantic,
  /// instance, label and position on CPU, then whatever the transform adds. Keeps the next
  /// `prefetch` micro-steps in preparation. Throws std::runtime_error if a sample fails in a
  /// way that is not bad data (or cannot be replaced), naming it.
  Batch batch(int64_t micro_step);
  /// Dataset indices of micro-batch `micro_step` of this slice (before replacements).
  std::vector<int64_t> indices(int64_t micro_step) const;
  /// Global positions of micro-batch `micro_step` of this slice.
  std::vector<int64_t> positions(int64_t micro_step) const;
  const LoaderOptions& options() const { return options_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  LoaderOptions options_;
};

/// The data section's loader options for images of img_size pixels: batch size, worker
/// threads, prefetch, crop, flip and interpolation; `seed` is the run's seed.
LoaderOptions loader_options(const config::DataConfig& data, int64_t img_size, uint64_t seed,
                             int64_t slice = 0, int64_t num_slices = 1);

/// The label maps as training reads them: at the label resolution (1 / kLabelDownsample)
/// and the instance ids canonical with at most max_instances instances (instance_ids.h).
void prepare_training_labels(Batch& batch, int64_t max_instances);

/// Samples `indices` of `dataset` read one after the other on this thread (previews,
/// tools): sample k drawn from mix_seed({seed, k}). A bad sample throws BadSample naming it.
Batch read_batch(const Dataset& dataset, const std::vector<int64_t>& indices,
                 const SampleOptions& options, uint64_t seed);

/// Stacks samples into a Batch: rgb [B, 3, H, W] float normalised with kImageNetMean/Std,
/// semantic and instance [B, H, W] int64, label [B] int64.
Batch collate(const std::vector<Sample>& samples);

}  // namespace c2fmae::data
