// `semmae` generator: SemMAE's semantic-guided masking (Li et al., arXiv 2206.10207;
// ucasligang/SemMAE, models_mae_setting3.py random_masking_setting3 and
// engine_pretrain_setting3.py), a schedule from intra-part to inter-part masking.
//
// Patches are grouped into parts. With L patches, T of them to hide (T = L -
// spatial_keep_count: MAE's 75 % in MAE mode) and r = T / L, the parts are visited in random
// order and part i (n_i patches, its patches in random order) hides its first
//
//     m_i = round(lambda * round(r * n_i) + (1 - lambda) * min(n_i, max(0, T - sum_{j<i} n_j)))
//
// (round: half to even, as torch.round). lambda = 1 hides a share r of every part
// (intra-part); lambda = 0 hides whole parts in visiting order until T (inter-part).
// lambda(t) over progress t is masking.semmae_schedule: quadratic 1 - t^2 (SemMAE's
// setting 3), linear, cosine, intra (1) or inter (0). Then the exact count, as SemMAE's
// argsort does: when the m_i sum below T, random unhidden patches are hidden; above T,
// random hidden ones are kept. Then the visible budget (spatial_mask.h).
//
// Parts (masking.semmae_parts): `semantic`, the patches of one majority semantic class
// (patch_majority.h) — our datasets' semantic maps stand in for SemMAE's learned parts,
// whose part-learning stage was never released; or `attention`, the level of
// masking.semmae_num_parts groups (SemMAE: 7 parts) of the EMA encoder's affinity
// hierarchy (affinity_hierarchy.h), as the `evolved` generator parses it.
#pragma once
#include <string>
#include <vector>

#include "c2fmae/core/random.h"
#include "c2fmae/masking/mask_generator.h"

namespace c2fmae::masking {

/// lambda at progress t (clamped to [0, 1]) under `schedule`.
double semmae_lambda(config::SemmaeSchedule schedule, double progress);

/// The patches one sample hides: parts [L] (any ids), exactly `hide` of them.
std::vector<bool> semmae_hidden(Rng& rng, const std::vector<int64_t>& parts, int64_t hide,
                                double lambda);

class SemmaeGenerator : public MaskGenerator {
 public:
  SemmaeGenerator(const MaskSpec& spec, const config::MaskingConfig& config);
  std::string name() const override { return "semmae"; }
  torch::Tensor generate(const MaskInputs& inputs, uint64_t seed) const override;
  /// The semantic map, or the affinity with semmae_parts = attention.
  MaskNeeds needs() const override;

 private:
  MaskSpec spec_;
  config::SemmaeSchedule schedule_;
  bool attention_;
  int64_t num_parts_;
  double dirichlet_alpha_;
};

}  // namespace c2fmae::masking
