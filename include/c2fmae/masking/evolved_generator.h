// `evolved` generator: evolved hierarchical masking, after "Evolved Hierarchical Masking"
// (Feng & Zhang, arXiv 2504.09155) and its predecessor Evolved Part Masking (EPM, CVPR 2023,
// ZhanzhouFeng/Evolved-Part-Masking, model/models_mae_evolved_base.py strategy_masking_eff).
//
// Inputs: the patch affinity [B, L, L] (MaskInputs::affinity), which the pre-training engine
// computes from an EMA copy of the encoder on all RGB tokens (train/ema_encoder.h): the
// softmax attention summed over every block and head, class token dropped. Per sample:
//
//   1. Hierarchy. AffinityHierarchy (affinity_hierarchy.h): repeated merging of the two
//      touching groups of highest average affinity, a binary tree over the patches.
//   2. Level. K = round(start + (end - start) * t) groups at progress t (masking.
//      evolved_parts_start / _end; EPM's cluster count falls linearly 40 -> 10): small
//      groups early, object-sized groups late.
//   3. Noise (EPM): n_p = (1 - a) * g[r mod c][q mod c] + a * u[group(p)] with a = t^power
//      (masking.evolved_alpha_power, EPM 0.5), g a c x c grid of uniform values
//      (masking.evolved_grid_cell c, EPM 2) and u one uniform value per group; ties broken
//      by a uniform value per patch.
//   4. The spatial_keep_count patches of lowest noise stay (EPM: "small is keep"), the others
//      are hidden in every modality; then the visible budget (spatial_mask.h).
//
// Early in training (a ~ 0) the mask is EPM's regular grid pattern; late (a ~ 1) it hides
// whole groups of the coarse level. Differences from EPM: EPM clusters the affinity with a
// soft EM into K in [k, k + 2] parts with no hierarchy; here the groups are levels of one
// tree (EHM). EPM draws one grid pattern per batch; here per sample, so that a sample's mask
// depends only on (seed, its global position, its affinity).
#pragma once
#include <string>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

/// The knobs of the evolved generator (masking.evolved_*).
struct EvolvedOptions {
  int64_t parts_start = 40;
  int64_t parts_end = 10;
  double alpha_power = 0.5;
  int64_t grid_cell = 2;
  double dirichlet_alpha = 1.0;
  static EvolvedOptions from_config(const config::MaskingConfig& config);
};

/// Steps 3-4 for one sample: groups [L] (ids >= 0), hides exactly `hide` patches.
std::vector<bool> evolved_hidden(Rng& rng, const std::vector<int64_t>& groups, int64_t grid,
                                 int64_t grid_cell, double alpha, int64_t hide);

class EvolvedGenerator : public MaskGenerator {
 public:
  EvolvedGenerator(MaskSpec spec, EvolvedOptions options);
  EvolvedGenerator(const MaskSpec& spec, const config::MaskingConfig& config)
      : EvolvedGenerator(spec, EvolvedOptions::from_config(config)) {}
  std::string name() const override { return "evolved"; }
  /// Throws std::invalid_argument when inputs.affinity is not [B, L, L].
  torch::Tensor generate(const MaskInputs& inputs, uint64_t seed) const override;
  MaskNeeds needs() const override {
    MaskNeeds n;
    n.affinity = true;
    return n;
  }

 private:
  MaskSpec spec_;
  EvolvedOptions options_;
};

/// inputs.affinity checked to be [B, L, L] for a generator called `name`.
void check_affinity(const MaskInputs& inputs, const MaskSpec& spec, const std::string& name);

}  // namespace c2fmae::masking
