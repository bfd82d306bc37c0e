#include "c2fmae/models/position_embedding.h"

#include <torch/torch.h>

namespace c2fmae::models {

torch::Tensor sincos_2d_embedding(int64_t dim, int64_t grid, bool cls_token) {
  TORCH_CHECK(dim % 4 == 0, "sincos_2d_embedding: dim must be a multiple of 4, but got ", dim);
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto omega = 1.0 / torch::pow(10000.0, torch::arange(dim / 4, opts) / (dim / 4.0));
  auto coord = torch::arange(grid, opts);
  auto col = coord.repeat({grid});                  // c for patch r * grid + c
  auto row = coord.repeat_interleave(grid);         // r
  auto oc = col.unsqueeze(1) * omega.unsqueeze(0);  // [L, dim/4]
  auto orow = row.unsqueeze(1) * omega.unsqueeze(0);
  auto pos = torch::cat({oc.sin(), oc.cos(), orow.sin(), orow.cos()}, 1).to(torch::kFloat);
  return cls_token ? torch::cat({torch::zeros({1, dim}), pos}, 0) : pos;
}

}  // namespace c2fmae::models
