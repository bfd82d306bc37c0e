// Fixed 2-D sin-cos position embeddings (MAE's get_2d_sincos_pos_embed).
#pragma once
#include <torch/types.h>

namespace c2fmae::models {

/// [grid * grid, dim] float32, row-major patches; dim a multiple of 4. Per patch at
/// (row r, column c): [sin(c w), cos(c w), sin(r w), cos(r w)], w_k = 10000^(-k / (dim/4)),
/// computed in float64 as MAE does with numpy. With cls_token (MAE's flag of the same name)
/// a zero row for the class token comes first: [1 + grid * grid, dim].
torch::Tensor sincos_2d_embedding(int64_t dim, int64_t grid, bool cls_token = false);

}  // namespace c2fmae::models
