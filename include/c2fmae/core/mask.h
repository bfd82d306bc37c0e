// The token mask convention, defined once for the whole library.
//
//   mask: [B, M, L] bool, false (0) = visible, true (1) = masked
//
// B samples, M enabled modalities in coarse-to-fine order (see modality.h), L patches per
// modality in row-major grid order. Every sample of a batch has exactly the same number of
// visible tokens (DESIGN.md §1: a fixed budget keeps shapes static). Flattened token index
// of (m, l) is m * L + l; visible tokens are always taken in ascending flattened order.
#pragma once
#include <torch/types.h>

#include "c2fmae/core/batch.h"

namespace c2fmae {

constexpr bool kVisible = false;
constexpr bool kMasked = true;

/// Checks dtype, rank, sizes and that every sample has exactly `num_visible` visible tokens.
void check_mask(const torch::Tensor& mask, int64_t num_modalities, int64_t num_patches,
                int64_t num_visible);

/// Indices of the visible tokens into the flattened M * L axis, ascending.
/// mask: [B, M, L] -> [B, V] int64, on the CPU. Throws unless all samples have the same V.
/// Reads the mask on the host: call it where masks are made, not in the step.
torch::Tensor visible_token_indices(const torch::Tensor& mask);

/// Rows of the masked tokens of modality m, ascending: mask [B, M, L] -> [N_m] int64 with
/// row b * L + l for every masked (b, m, l), on the CPU (host read, as above).
torch::Tensor masked_rows(const torch::Tensor& mask, int64_t modality);

/// Sets batch.visible and batch.masked from batch.mask (CPU; see above). The loader's
/// transform calls it right after making the mask, so the step never reads the mask.
void attach_token_indices(Batch& batch);

/// Number of visible tokens per sample: [B, M, L] -> [B] int64.
torch::Tensor visible_counts(const torch::Tensor& mask);

}  // namespace c2fmae
