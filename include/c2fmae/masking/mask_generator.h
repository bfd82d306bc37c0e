// Mask generators: each turns a batch into a token mask with exactly `num_visible` visible
// tokens per sample (convention in core/mask.h). Generators are pure functions of
// (batch, seed): the trainer derives the seed from (run seed, step), so a resumed run draws
// the same masks as the uninterrupted run.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
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

  int64_t num_modalities() const { return static_cast<int64_t>(modalities.size()); }
  int64_t num_patches() const { return grid * grid; }
  /// From the model and masking sections of a config.
  static MaskSpec from_config(const config::ModelConfig& model,
                              const config::MaskingConfig& masking);
};

class MaskGenerator {
 public:
  virtual ~MaskGenerator() = default;
  /// "random", "semantic" or "instance".
  virtual std::string name() const = 0;
  /// batch (semantic / instance maps as the generator needs them) -> [B, M, L] bool on CPU.
  virtual torch::Tensor generate(const Batch& batch, uint64_t seed) const = 0;
};

/// Names of the generators make_mask_generator knows.
const std::vector<std::string>& mask_generator_names();

/// The generator called `name`; throws std::invalid_argument for an unknown name.
std::unique_ptr<MaskGenerator> make_mask_generator(const std::string& name, const MaskSpec& spec,
                                                   const config::MaskingConfig& config);

}  // namespace c2fmae::masking
