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

torch::Tensor patch_regions(const torch::Tensor& map, int64_t grid) {
  TORCH_CHECK(map.defined(), "patch_regions: expected a label map [B, H, W], but got none");
  TORCH_CHECK(map.dim() == 3, "patch_regions: expected a label map [B, H, W], but got ",
              map.sizes());
  TORCH_CHECK(at::isIntegralType(map.scalar_type(), /*includeBool=*/false),
              "patch_regions: expected integer labels, but got ", map.scalar_type());
  TORCH_CHECK(grid > 0 && map.size(1) == map.size(2) && map.size(2) % grid == 0,
              "patch_regions: a ", map.size(1), "x", map.size(2), " map does not divide into a ",
              grid, "x", grid,
              " grid of square patches\nhint: pass the map at full or 1/4 resolution of an "
              "image whose side is a multiple of the patch grid");
  return patch_majority(map.cpu(), map.size(2) / grid);
}

}  // namespace c2fmae::masking
