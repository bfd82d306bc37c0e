// Mask generators: each turns a batch slice into a token mask with exactly `num_visible`
// visible tokens per sample (convention in core/mask.h). Generators are pure functions of
// (inputs, seed): the trainer derives the seed from (run seed, step), so a resumed run draws
// the same masks as the uninterrupted run. They are registered by name
// (masking/generator_registry.h) and named by curriculum keyframes.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "c2fmae/config/sections.h"
#include "c2fmae/core/batch.h"
#include "c2fmae/core/modality.h"

namespace c2fmae::masking {

/// The token layout masks are made for.
struct MaskSpec {
  std::vector<Modality> modalities;  ///< enabled, coarse to fine: the mask's M axis
  int64_t grid = 14;                 ///< patches per side; L = grid * grid
  int64_t patch = 16;                ///< patch side in pixels
  int64_t num_visible = 98;          ///< visible tokens per sample over all modalities
  /// Probability that a sample's visible budget goes to RGB alone (masking.rgb_only_prob).
  double rgb_only_prob = 0.0;

  int64_t num_modalities() const { return static_cast<int64_t>(modalities.size()); }
  int64_t num_patches() const { return grid * grid; }
  /// From the model and masking sections of a config.
  static MaskSpec from_config(const config::ModelConfig& model,
                              const config::MaskingConfig& masking);
};

/// What a generator may read about the samples it masks. Generators that need more than
/// the label maps get it as tensors computed elsewhere (e.g. from the model's attention by
/// the trainer), never the model itself.
struct MaskInputs {
  MaskInputs() = default;
  /// The label maps of `batch` alone.
  MaskInputs(Batch batch) : batch(std::move(batch)) {}  // NOLINT: implicit on purpose

  Batch batch;             ///< label maps (semantic, instance) as the generator needs them
  torch::Tensor affinity;  ///< optional [B, L, L] float patch affinity, undefined if none
  double progress = 0.0;   ///< training progress in [0, 1] (for schedules inside a generator)

  /// Number of samples.
  int64_t size() const { return batch.size(); }
  /// The seed of sample i's draws under a generator seeded with `seed`: keyed by the
  /// sample's global position when the batch has one (so a sample is masked the same on any
  /// number of processes), else by i.
  uint64_t sample_seed(uint64_t seed, int64_t i) const;
  /// Samples `index` ([K] int64) of every defined field.
  MaskInputs select(const torch::Tensor& index) const;
};

/// The optional inputs a generator reads; the trainer computes only what some generator
/// of the curriculum needs.
struct MaskNeeds {
  bool affinity = false;
  /// Reads the semantic or instance map per patch at the label resolution, so the patch
  /// must be a multiple of kLabelDownsample label pixels (checked before a run starts).
  bool label_maps = false;
};

class MaskGenerator {
 public:
  virtual ~MaskGenerator() = default;
  /// The name it is registered under.
  virtual std::string name() const = 0;
  /// inputs -> [B, M, L] bool on CPU, exactly num_visible visible tokens per sample.
  virtual torch::Tensor generate(const MaskInputs& inputs, uint64_t seed) const = 0;
  /// Optional inputs it reads (none by default).
  virtual MaskNeeds needs() const { return {}; }
};

}  // namespace c2fmae::masking
