#include "c2fmae/masking/random_generator.h"

#include <torch/torch.h>

#include <numeric>

#include "c2fmae/core/mask.h"
#include "c2fmae/core/random.h"
#include "c2fmae/core/seeding.h"
#include "c2fmae/masking/budget_split.h"

namespace c2fmae::masking {

RandomGenerator::RandomGenerator(MaskSpec spec, double dirichlet_alpha)
    : spec_(std::move(spec)), alpha_(dirichlet_alpha) {}

torch::Tensor RandomGenerator::generate(const MaskInputs& inputs, uint64_t seed) const {
  const int64_t b = inputs.size(), m = spec_.num_modalities(), l = spec_.num_patches();
  auto mask = torch::ones({b, m, l}, torch::kBool);
  auto acc = mask.accessor<bool, 3>();
  const std::vector<int64_t> capacity(m, l);
  for (int64_t i = 0; i < b; ++i) {
    Rng rng(inputs.sample_seed(seed, i));
    const auto counts = split_visible(rng, spec_, alpha_, spec_.num_visible, capacity);
    for (int64_t j = 0; j < m; ++j) {
      std::vector<int64_t> patches(l);
      std::iota(patches.begin(), patches.end(), 0);
      choose_uniform(rng, patches, counts[j]);
      for (int64_t k = 0; k < counts[j]; ++k) acc[i][j][patches[k]] = kVisible;
    }
  }
  return mask;
}

}  // namespace c2fmae::masking
