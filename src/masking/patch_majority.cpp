#include "c2fmae/masking/patch_majority.h"

#include <torch/torch.h>

#include "c2fmae/core/patchify.h"

namespace c2fmae::masking {

torch::Tensor patch_majority(const torch::Tensor& map, int64_t patch) {
  auto pixels = patchify_map(map.to(torch::kLong), patch);  // [B, L, p*p]
  // Sort, then count run lengths: deterministic ties (smallest label), unlike at::mode.
  auto sorted = std::get<0>(pixels.sort(-1));
  const int64_t n = sorted.size(-1);
  auto same = torch::cat({torch::zeros_like(sorted.narrow(-1, 0, 1)).to(torch::kBool),
                          sorted.narrow(-1, 1, n - 1) == sorted.narrow(-1, 0, n - 1)},
                         -1);
  // Run length ending at each position: positions since the last run start.
  auto pos = torch::arange(n, sorted.options()).expand_as(sorted);
  auto run_start = std::get<0>(torch::where(same, 0, pos).cummax(-1));
  auto length = pos - run_start + 1;
  // First maximal run = smallest label among the most frequent.
  auto best = length.argmax(-1, /*keepdim=*/true);
  return sorted.gather(-1, best).squeeze(-1);
}

}  // namespace c2fmae::masking
