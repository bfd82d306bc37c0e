// A preview of what one mask generator does to a config's data, as c2fmae_masks shows it:
// the first `count` samples of the configured dataset (indices 0..count-1, the whole
// source, no flip) at model.img_size, masked by the named generator at a given training
// progress, with the per-patch region ids the guided generators group patches by.
//
//   auto preview = make_mask_preview(cfg, {"instance", 0.5, 16});  // throws UsageError
//   preview.batch.mask;          // [16, M, L] bool, 1 = masked (core/mask.h)
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "c2fmae/config/pretrain_config.h"
#include "c2fmae/core/batch.h"

namespace c2fmae::train {

struct MaskPreviewOptions {
  std::string generator;  ///< a registered mask generator (masking/generator_registry.h)
  double progress = 0.0;  ///< training progress in [0, 1] handed to the generator
  int64_t count = 16;     ///< samples, 1 .. the dataset's size
  /// Generators that read the attention affinity (evolved; semmae on attention): the
  /// c2fmae_pretrain checkpoint whose EMA encoder (else its model's encoder) gives it; ""
  /// for the config's freshly initialised encoder.
  std::string checkpoint;
};

/// The most samples one preview holds (they are rendered and kept in memory together).
constexpr int64_t kMaxPreviewSamples = 1024;

struct MaskPreview {
  /// rgb [N, 3, H, W] float normalised; semantic [N, h, w] int64 and instance [N, h, w]
  /// uint8 canonical ids, both at the label resolution as training reads them
  /// (data::prepare_training_labels); label [N]; mask [N, M, L] bool (modalities in model
  /// order, the generator's mask as is).
  Batch batch;
  /// [N, L] int64 majority semantic class, and canonical instance id, of each patch;
  /// undefined for a patch the label maps do not fit (patch_fits_label_maps: an RGB-only
  /// model with a generator that reads no map).
  torch::Tensor semantic_patches;
  torch::Tensor instance_patches;
};

/// The first min(count, dataset size) samples of cfg's dataset that read (bad ones skipped
/// with a warning), whole images at model.img_size with no flip, the label maps (when the
/// dataset has them) as training reads them: rgb, semantic, instance and label set. `quiet`
/// (a run's pictures): fewer samples than asked are fine if one reads, and
/// bad samples are logged at debug level (a run's pictures: training logged them already).
Batch read_preview_samples(const config::PretrainConfig& cfg, int64_t count, bool quiet = false);

/// Checks `options` against `cfg` (a checked pre-training config: check_pretrain_config):
/// an unknown generator (naming the registered ones, with "did you mean"), a progress
/// outside [0, 1], a count below 1 or above the dataset's size, a checkpoint given to a
/// generator that reads no affinity or that does not load, each throw UsageError with a hint. Then
/// builds the preview (the affinity, when the generator reads it, from options.checkpoint); the
/// mask's seed is derived from train.seed, so the same config and options give the same masks.
MaskPreview make_mask_preview(const config::PretrainConfig& cfg, const MaskPreviewOptions& options);

}  // namespace c2fmae::train
