#include "c2fmae/train/mask_preview.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "c2fmae/config/config_error.h"
#include "c2fmae/core/error_text.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/core/number_text.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/batch_loader.h"
#include "c2fmae/data/dataset.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/masking/patch_majority.h"
#include "c2fmae/models/c2fmae_model.h"
#include "c2fmae/train/checkpoint.h"
#include "c2fmae/train/ema_encoder.h"

namespace c2fmae::train {
namespace {

/// The patch affinity of the EMA encoder of `checkpoint` (its stored EMA, else its model's
/// encoder), or of the config's freshly initialised model (a run's step 0) without one.
torch::Tensor preview_affinity(const config::PretrainConfig& cfg, const std::string& checkpoint,
                               const torch::Tensor& rgb) {
  if (!cfg.model.has(Modality::kRgb)) {
    throw UsageError(
        with_hint("the attention affinity is read from the RGB tokens, and "
                  "model.modalities has no rgb",
                  "enable rgb, or preview a generator that reads no affinity"));
  }
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));  // as a run initialises
  models::C2fmae model(cfg.model);
  std::vector<std::pair<std::string, torch::Tensor>> stored;
  if (!checkpoint.empty()) {
    TrainingState state;
    try {
      state = load_checkpoint(checkpoint, model.ptr().get(), nullptr, torch::kCPU);
    } catch (const std::exception& e) {
      throw UsageError(with_hint("--checkpoint " + checkpoint + ": " + error_text(e),
                                 "give a checkpoint-<step>.pt of a c2fmae_pretrain run of this "
                                 "config's model"));
    }
    stored = state.extra;
    log::info("affinity from " + checkpoint + " at step " + std::to_string(state.step));
  } else {
    log::info(
        "affinity from the config's freshly initialised encoder (a run's step 0); give "
        "--checkpoint to see a trained one's");
  }
  EmaEncoder ema(*model, cfg.masking.affinity_ema_decay);
  const auto restored = ema.restore(stored);
  if (restored.outcome == EmaEncoder::Restored::Outcome::kMismatch) {
    throw UsageError(with_hint("--checkpoint " + checkpoint +
                                   ": its EMA encoder was written for another model (" +
                                   restored.mismatch + ")",
                               "give a checkpoint of a run of this config's model (the same "
                               "model section)"));
  }
  if (restored.outcome == EmaEncoder::Restored::Outcome::kNone && !checkpoint.empty()) {
    log::info(
        "the checkpoint holds no EMA encoder (its run read no affinity): its model's "
        "encoder gives the affinity");
  }
  return ema.affinity(rgb, /*autocast=*/false);
}

}  // namespace

Batch read_preview_samples(const config::PretrainConfig& cfg, int64_t count, bool quiet) {
  const uint64_t seed = static_cast<uint64_t>(cfg.train.seed);
  const auto dataset = data::make_dataset(cfg.data, seed, cfg.data.split);
  count = std::min(count, dataset->size());
  data::SampleOptions read;  // whole images, as stored
  read.img_size = read.label_size = cfg.model.img_size;
  read.augmentation.enabled = false;
  read.masks = dataset->has_masks();
  read.interpolation = cfg.data.interpolation == config::ImageInterpolation::kBilinear
                           ? formats::Interpolation::kBilinear
                           : formats::Interpolation::kBicubic;
  if (cfg.model.has(Modality::kSemantic))
    read.num_semantic_classes = cfg.model.num_semantic_classes;
  // The first `count` samples that read; bad ones are skipped with a warning, as in training.
  // Each sample is read once, alone (a whole image: the augmentation is off, so its seed does
  // not matter), and the ones that read are stacked.
  std::vector<Batch> read_ok;
  for (int64_t i = 0; i < dataset->size() && static_cast<int64_t>(read_ok.size()) < count; ++i) {
    try {
      read_ok.push_back(data::read_batch(*dataset, {i}, read, seed));
    } catch (const data::BadSample& e) {
      const auto text = std::string("skipping bad sample ") + e.what();
      quiet ? log::debug(text) : log::warn(text);
    }
  }
  // A run's pictures show what reads; a preview asked for `count` samples.
  if (static_cast<int64_t>(read_ok.size()) < (quiet && !read_ok.empty() ? 1 : count)) {
    throw std::runtime_error(c10::str("only ", read_ok.size(), " of the dataset's ",
                                      dataset->size(), " samples could be read, fewer than the ",
                                      count, " asked for"));
  }
  auto stack = [&](torch::Tensor Batch::*field) {
    std::vector<torch::Tensor> parts;
    for (const auto& b : read_ok) {
      if (!(b.*field).defined()) return torch::Tensor();  // e.g. an ImageFolder's maps
      parts.push_back(b.*field);
    }
    return torch::cat(parts);
  };
  Batch batch;
  batch.rgb = stack(&Batch::rgb);
  batch.semantic = stack(&Batch::semantic);
  batch.instance = stack(&Batch::instance);
  batch.label = stack(&Batch::label);
  // The maps as training reads them: label resolution, canonical instance ids.
  data::prepare_training_labels(batch, cfg.model.instance_slots);
  return batch;
}

MaskPreview make_mask_preview(const config::PretrainConfig& cfg,
                              const MaskPreviewOptions& options) {
  if (!masking::is_registered_generator(options.generator)) {
    throw UsageError(with_hint(
        "unknown mask generator '" + options.generator + "'",
        config::did_you_mean(options.generator, masking::generator_names(), "generators")));
  }
  if (!(options.progress >= 0.0 && options.progress <= 1.0)) {
    throw UsageError(with_hint("progress " + shortest_text(options.progress) + " is outside [0, 1]",
                               "give the training progress step / total steps, e.g. 0.5"));
  }
  const uint64_t seed = static_cast<uint64_t>(cfg.train.seed);
  const auto dataset = data::make_dataset(cfg.data, seed, cfg.data.split);
  if (options.count < 1) {
    throw UsageError(with_hint("count " + std::to_string(options.count) + " is below 1",
                               "ask for at least one sample"));
  }
  if (options.count > kMaxPreviewSamples) {
    throw UsageError(with_hint("count " + std::to_string(options.count) + " is more than " +
                                   std::to_string(kMaxPreviewSamples) +
                                   " samples, which are all held in memory at once",
                               "look at fewer samples per run, e.g. --count 64"));
  }
  if (options.count > dataset->size()) {
    throw UsageError(with_hint("count " + std::to_string(options.count) +
                                   " is more than the dataset's " +
                                   std::to_string(dataset->size()) + " samples",
                               cfg.data.source == config::DataSource::kSynthetic
                                   ? "lower the count, or raise data.synthetic_samples"
                                   : "lower the count"));
  }
  const auto spec = masking::MaskSpec::from_config(cfg.model, cfg.masking);
  const auto generator = masking::make_generator(options.generator, spec, cfg.masking);
  const auto needs = generator->needs();
  if (needs.label_maps && !patch_fits_label_maps(cfg.model.patch_size)) {
    throw UsageError(with_hint(
        "mask generator '" + options.generator + "' reads the label maps, and model.patch_size " +
            std::to_string(cfg.model.patch_size) + " is not a multiple of " +
            std::to_string(kLabelDownsample) + ": " + label_patch_rule(),
        "use patch 16, or a generator that reads no map (" +
            masking::generators_that(spec, cfg.masking,
                                     [](const masking::MaskNeeds& n) { return !n.label_maps; }) +
            ")"));
  }
  if (!options.checkpoint.empty() && !needs.affinity) {
    throw UsageError(
        with_hint("--checkpoint is read only by generators that read the "
                  "attention affinity (evolved; semmae on attention), not '" +
                      options.generator + "'",
                  "drop --checkpoint"));
  }
  if (!dataset->has_masks()) {
    throw UsageError(with_hint("data.source = " + cfg.data.source.name() + " at " + cfg.data.root +
                                   " has no semantic and instance maps to show",
                               "point data.root at a dataset in MultiMAE's layout"));
  }
  MaskPreview preview;
  preview.batch = read_preview_samples(cfg, options.count);
  masking::MaskInputs inputs(preview.batch);
  inputs.progress = options.progress;
  if (needs.affinity)
    inputs.affinity = preview_affinity(cfg, options.checkpoint, preview.batch.rgb);
  preview.batch.mask = generator->generate(inputs, mix_seed({seed, 0x3A5Cu}));
  if (patch_fits_label_maps(cfg.model.patch_size)) {  // else no patch covers whole label pixels
    preview.semantic_patches = masking::patch_regions(preview.batch.semantic, spec.grid);
    preview.instance_patches = masking::patch_regions(preview.batch.instance, spec.grid);
  }
  return preview;
}

}  // namespace c2fmae::train
