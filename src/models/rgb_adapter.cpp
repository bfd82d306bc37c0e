#include "c2fmae/models/rgb_adapter.h"

#include <torch/torch.h>

namespace c2fmae::models {

RgbAdapterImpl::RgbAdapterImpl(const RgbAdapterOptions& options_) : options(options_) { reset(); }

void RgbAdapterImpl::reset() {
  const auto p = options.patch_size();
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, options.dim(), p).stride(p)));
}

torch::Tensor RgbAdapterImpl::forward(const torch::Tensor& rgb) {
  TORCH_CHECK(rgb.dim() == 4 && rgb.size(1) == 3, "RgbAdapter: expected [B, 3, H, W], but got ",
              rgb.sizes());
  return proj(rgb).flatten(2).transpose(1, 2);
}

}  // namespace c2fmae::models
