#include "c2fmae/train/mask_preview.h"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "c2fmae/config/config_error.h"
#include "c2fmae/core/log.h"
#include "c2fmae/core/modality.h"
#include "c2fmae/core/number_text.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/core/usage_error.h"
#include "c2fmae/data/batch_loader.h"
#include "c2fmae/data/dataset.h"
#include "c2fmae/masking/generator_registry.h"
#include "c2fmae/masking/patch_majority.h"

namespace c2fmae::train {

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
                               cfg.data.source == "synthetic" ? "lower the count, or raise data.synthetic_samples" : "lower the count"));
  }
  const auto spec = masking::MaskSpec::from_config(cfg.model, cfg.masking);
  const auto generator = masking::make_generator(options.generator, spec, cfg.masking);
  const auto needs = generator->needs();
  if (needs.label_maps && cfg.model.patch_size % kLabelDownsample != 0) {
    throw UsageError(with_hint(
        "mask generator '" + options.generator + "' reads the label maps at 1/" +
            std::to_string(kLabelDownsample) + " resolution, and model.patch_size " +
            std::to_string(cfg.model.patch_size) + " is not a multiple of " +
            std::to_string(kLabelDownsample),
        "use patch 16, or a generator that reads no map (random)"));
  }
  if (needs.affinity || needs.parts) {
    throw UsageError(with_hint("mask generator '" + options.generator +
                                   "' reads a patch affinity or part ids computed from a model",
                               "preview a generator that reads only the label maps"));
  }
  if (!dataset->has_masks()) {
    throw UsageError(with_hint("data.source = " + cfg.data.source + " at " + cfg.data.root +
                                   " has no semantic and instance maps to show",
                               "point data.root at a dataset in MultiMAE's layout"));
  }
  data::SampleOptions read;  // whole images, as stored
  read.img_size = read.label_size = cfg.model.img_size;
  read.augmentation.enabled = false;
  read.interpolation = cfg.data.interpolation == "bilinear" ? data::Interpolation::kBilinear
                                                             : data::Interpolation::kBicubic;
  if (cfg.model.has(Modality::kSemantic)) read.num_semantic_classes = cfg.model.num_semantic_classes;
  // The first `count` samples that read; bad ones are skipped with a warning, as in training.
  // Each sample is read once, alone (a whole image: the augmentation is off, so its seed does
  // not matter), and the ones that read are stacked.
  std::vector<Batch> read_ok;
  for (int64_t i = 0; i < dataset->size() && static_cast<int64_t>(read_ok.size()) < options.count; ++i) {
    try {
      read_ok.push_back(data::read_batch(*dataset, {i}, read, seed));
    } catch (const data::BadSample& e) {
      log::warn(std::string("skipping bad sample ") + e.what());
    }
  }
  if (static_cast<int64_t>(read_ok.size()) < options.count) {
    throw std::runtime_error(c10::str("only ", read_ok.size(), " of the dataset's ",
                                      dataset->size(), " samples could be read, fewer than the ",
                                      options.count, " asked for"));
  }
  auto stack = [&](torch::Tensor Batch::*field) {
    std::vector<torch::Tensor> parts;
    for (const auto& b : read_ok) parts.push_back(b.*field);
    return torch::cat(parts);
  };
  MaskPreview preview;
  preview.batch.rgb = stack(&Batch::rgb);
  preview.batch.semantic = stack(&Batch::semantic);
  preview.batch.instance = stack(&Batch::instance);
  preview.batch.label = stack(&Batch::label);
  // The maps as training reads them: label resolution, canonical instance ids.
  data::prepare_training_labels(preview.batch, cfg.model.instance_slots);
  masking::MaskInputs inputs(preview.batch);
  inputs.progress = options.progress;
  preview.batch.mask = generator->generate(inputs, mix_seed({seed, 0x3A5Cu}));
  preview.semantic_patches = masking::patch_regions(preview.batch.semantic, spec.grid);
  preview.instance_patches = masking::patch_regions(preview.batch.instance, spec.grid);
  return preview;
}

}  // namespace c2fmae::train
