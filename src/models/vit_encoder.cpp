#include "c2fmae/models/vit_encoder.h"

#include <torch/torch.h>

#include "c2fmae/models/block.h"

namespace c2fmae::models {

VitEncoderImpl::VitEncoderImpl(const VitEncoderOptions& options_) : options(options_) { reset(); }

void VitEncoderImpl::reset() {
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth(); ++i) {
    blocks->push_back(
        Block(BlockOptions(options.dim(), options.num_heads()).mlp_ratio(options.mlp_ratio())));
  }
  norm = register_module("norm", make_layer_norm(options.dim()));
}

torch::Tensor VitEncoderImpl::forward(const torch::Tensor& x) {
  auto y = x;
  for (const auto& block : *blocks) y = block->as<Block>()->forward(y);
  return norm(y);
}

}  // namespace c2fmae::models
